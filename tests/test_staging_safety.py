"""The suite is safe to point at a shared staging account (GitHub issue 5).

Each test starts its own reference server on 127.0.0.1, on a data directory of its own, and seeds
it the way a real staging account looks: images the suite did not create, in an order a person
chose. Then it runs the suite in a child process, the way a nightly job would, and checks what
the account looks like afterwards, byte for byte.

Where a server has to misbehave in a way the reference server's faults do not offer (only the
first delete held, an answer lost after the server acted), a small TCP proxy on 127.0.0.1 sits
between the suite and the server. No output of a run holding a token: tests/test_no_token_leak.py.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from PIL import Image

from harness.ledger import Ledger, OrderNotes, SentFile
from harness.session import ledger_path
from harness.world import order_to_restore
from reference_server.launcher import RunningServer, start_server
from tests.suite_runner import ROOT, SuiteRun, child_env, run_suite

ALICE = "staging-safety-alice-Qm7Rz2"
BOB = "staging-safety-bob-Kx4Wp9"
USERS = {ALICE: "alice", BOB: "bob"}
EMPTY_GALLERY = "test_an_empty_gallery_is_listed_as_an_empty_list"
EMPTY_GALLERY_SKIP = (
    "Alice's gallery holds 5 image(s) this suite did not create; "
    "an empty gallery cannot be checked with this account"
)


# Seeding a gallery the suite did not create.


@dataclass(frozen=True)
class SeededImage:
    id: str
    title: str
    sha256: str


@dataclass(frozen=True)
class Seeded:
    """What the account held before the suite ran: per user, the images in their order."""

    galleries: dict[str, list[SeededImage]]


def real_image(kind: str, seed: int) -> bytes:
    """A small real PNG or JPEG whose pixels depend on the seed."""
    image = Image.new("RGB", (48, 32), ((seed * 53) % 256, (seed * 91) % 256, (seed * 29) % 256))
    for x in range(0, 48, 3):
        image.putpixel((x, seed % 32), (255 - x, x * 5 % 256, seed % 256))
    out = io.BytesIO()
    image.save(out, format="PNG" if kind == "png" else "JPEG", quality=90)
    return out.getvalue()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _upload(http: httpx.Client, token: str, title: str, kind: str, seed: int) -> SeededImage:
    data = real_image(kind, seed)
    name = f"{title}.{'png' if kind == 'png' else 'jpg'}"
    mime = "image/png" if kind == "png" else "image/jpeg"
    answer = http.post(
        "storage/image",
        headers=_bearer(token),
        files={"file": (name, data, mime)},
        data={"title": title},
    )
    assert answer.status_code == 200, f"seeding: uploading {name} answered {answer.text}"
    return SeededImage(answer.json()["id"], title, hashlib.sha256(data).hexdigest())


def seed_gallery(base_url: str) -> Seeded:
    """Five images for Alice in an order of her own choosing, and two for Bob."""
    with httpx.Client(base_url=base_url + "/", timeout=10) as http:
        kinds = ["png", "jpeg", "png", "jpeg", "png"]
        alice = [_upload(http, ALICE, f"holiday-{i}", k, i) for i, k in enumerate(kinds)]
        bob = [_upload(http, BOB, f"bob-{i}", "jpeg", 100 + i) for i in range(2)]
        chosen = [alice[i] for i in (3, 0, 4, 2, 1)]
        answer = http.put(
            "storage/images/order",
            headers=_bearer(ALICE),
            json={"order": [image.id for image in chosen]},
        )
        assert answer.status_code == 200, f"seeding: setting Alice's order answered {answer.text}"
    seeded = Seeded({ALICE: chosen, BOB: bob})
    assert_untouched(base_url, seeded)
    return seeded


# Checking the account after a run.


def gallery_now(base_url: str, token: str) -> list[SeededImage]:
    """The gallery as listed, each image with the sha256 of the bytes its url serves."""
    with httpx.Client(base_url=base_url + "/", timeout=10) as http:
        listed = http.get("storage/images", headers=_bearer(token))
        assert listed.status_code == 200, f"listing {USERS[token]}'s gallery: {listed.text}"
        images = []
        for record in listed.json():
            served = http.get(urljoin(base_url + "/", record["url"]))
            assert served.status_code == 200, f"fetching {record['url']}: {served.status_code}"
            digest = hashlib.sha256(served.content).hexdigest()
            images.append(SeededImage(record["id"], record["title"], digest))
        return images


def assert_untouched(base_url: str, seeded: Seeded) -> None:
    """Every user's gallery is exactly the seeded one: same images, bytes, titles and order."""
    for token, before in seeded.galleries.items():
        now = gallery_now(base_url, token)
        assert now == before, (
            f"{USERS[token]}'s gallery after the run (id, title, sha256 of url bytes, in order)\n"
            f"  received: {now}\n  expected: {before}"
        )


def remote(server: RunningServer, **settings: str) -> dict[str, str]:
    """The settings that point the suite at `server` as Alice and Bob."""
    return {
        "STRETCH_BASE_URL": server.base_url,
        "STRETCH_TOKEN": ALICE,
        "STRETCH_TOKEN_B": BOB,
        **settings,
    }


@functools.cache
def scenarios(marks: str = "") -> tuple[str, ...]:
    """The scenario names (as JUnit names them) a run with this -m selection would run."""
    selection = ["-m", marks] if marks else []
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *selection],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return tuple(line.split("::", 1)[1] for line in done.stdout.splitlines() if "::" in line)


@pytest.fixture
def staging(tmp_path: Path):
    """A reference server holding a seeded gallery, stopped at the end of the test."""
    server = start_server(tmp_path / "staging-data", USERS)
    try:
        yield server, seed_gallery(server.base_url)
    finally:
        server.stop()


# 1. Complete, interrupted and server-killed runs leave the seeded gallery as it was.


def test_a_complete_run_passes_and_leaves_the_seeded_gallery_untouched(tmp_path, staging):
    server, seeded = staging

    run = run_suite(tmp_path, **remote(server))

    assert run.failed == {}, run.output[-4000:]
    assert run.skipped == {EMPTY_GALLERY: EMPTY_GALLERY_SKIP}, run.skipped
    assert sorted(run.passed) == sorted(set(scenarios()) - {EMPTY_GALLERY})
    assert run.returncode == 0, run.output[-2000:]
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(server.base_url) == {}


# Runs that are cut short: the suite started in its own process group, as a terminal starts it.

FINISHED_LINE = re.compile(r"^steps/\S.* (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS) +\[", re.M)
INTERRUPTED_SELECTION = "destructive and not slow"  # all but the 20 MB uploads


@dataclass
class LiveRun:
    """A suite run in progress, its console written to a file as it goes."""

    process: subprocess.Popen
    console: Path

    def finished(self) -> int:
        """How many scenarios the run has reported so far."""
        return len(FINISHED_LINE.findall(self.console.read_text(errors="replace")))

    def wait_for_scenarios(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.finished() < count:
            assert self.process.poll() is None, (
                f"the run ended (exit {self.process.returncode}) after {self.finished()} "
                f"scenarios, before {count}:\n{self.output()[-3000:]}"
            )
            assert time.monotonic() < deadline, f"fewer than {count} scenarios in {timeout} s"
            time.sleep(0.05)

    def wait(self, timeout: float) -> int:
        """The exit code; the run must end within `timeout` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"the run did not end within {timeout} s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.console.read_text(errors="replace")


def start_suite(tmp_path: Path, *args: str, **settings: str) -> LiveRun:
    console = tmp_path / "console.txt"
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:randomly", *args]
    with console.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(PYTHONUNBUFFERED="1", **settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return LiveRun(process, console)


def ledger_of(base_url: str) -> Ledger:
    """The suite's cleanup ledger for this target, as the next run would read it."""
    return Ledger(ledger_path(base_url))


def pending_in_ledger(base_url: str) -> dict[str, str]:
    """What the ledger still holds for the target: images (id -> user) and unsettled uploads."""
    ledger = ledger_of(base_url)
    return {**ledger.pending(), **{sha: f.user for sha, f in ledger.unsettled().items()}}


def leftovers_the_ledger_does_not_know(base_url: str, seeded: Seeded) -> list[SeededImage]:
    """Images on the account that were not seeded and that the ledger cannot find again."""
    ledger = ledger_of(base_url)
    pending, sent = ledger.pending(), ledger.unsettled()
    unknown = []
    for token, before in seeded.galleries.items():
        kept = {image.id for image in before}
        for image in gallery_now(base_url, token):
            if image.id not in kept and image.id not in pending and image.sha256 not in sent:
                unknown.append(image)
    return unknown


def test_a_run_stopped_with_ctrl_c_cleans_up_and_leaves_the_seeded_gallery(tmp_path, staging):
    server, seeded = staging
    live = start_suite(tmp_path, "-m", INTERRUPTED_SELECTION, **remote(server))
    selected = len(scenarios(INTERRUPTED_SELECTION))
    live.wait_for_scenarios(selected * 4 // 10)

    os.killpg(live.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    code = live.wait(60)

    assert code == pytest.ExitCode.INTERRUPTED, live.output()[-3000:]
    assert "KeyboardInterrupt" in live.output()
    assert live.finished() < selected, f"the run finished all {selected} scenarios"
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(server.base_url) == {}


def port_of(server: RunningServer) -> int:
    return int(server.origin.rsplit(":", 1)[1])


def test_a_run_whose_server_is_killed_midway_ends_and_nothing_of_it_remains(tmp_path, staging):
    """The target dies (SIGKILL) midway and is started again on the same port and data.

    What is honest to promise. The run goes on and ends; the scenarios that met the outage fail
    naming the request and the transport error. Whether the run still cleans up depends on the
    target being back before the run ends (the suite is fast; either can happen), so the first
    run is held only to this: every image it left on the account is accounted for in its ledger
    (.cache/state/): by ID, or for an upload whose answer was lost, by the sha256 of its bytes.
    The next run, as a nightly schedule would start it, deletes those at its start; after it the
    account is exactly as seeded and the ledger is empty.
    """
    server, seeded = staging
    port = port_of(server)
    live = start_suite(tmp_path, "-m", INTERRUPTED_SELECTION, **remote(server))
    live.wait_for_scenarios(len(scenarios(INTERRUPTED_SELECTION)) * 4 // 10)

    server.process.kill()
    server.process.wait()
    revived = start_server(tmp_path / "staging-data", USERS, port=port)
    try:
        code = live.wait(150)
        first = live.output()
        unaccounted = leftovers_the_ledger_does_not_know(revived.base_url, seeded)
        second = run_suite(tmp_path / "second", "-m", "smoke", **remote(revived))

        assert code == pytest.ExitCode.TESTS_FAILED, first[-3000:]
        outage = rf"(GET|POST|PUT|DELETE) {re.escape(server.base_url)}/\S+ as user [AB]: transport"
        assert re.search(outage, first), first[-3000:]
        assert unaccounted == [], "images left by the first run that its ledger does not know"
        assert second.failed == {}, second.output[-3000:]
        assert second.returncode == 0, second.output[-3000:]
        assert_untouched(revived.base_url, seeded)
        assert pending_in_ledger(revived.base_url) == {}
    finally:
        revived.stop()


def test_what_the_suite_could_not_undo_is_reported_as_a_failure_of_its_own(tmp_path):
    """A server that answers deletes with success but keeps the images: the suite cannot clean up.

    The end-of-run comparison with the start snapshot must say so, and the seeded images must
    still be there, unchanged and in their order, among the ones the suite could not remove.
    """
    with start_server(tmp_path / "data", USERS, faults=["delete_keeps_image"]) as server:
        seeded = seed_gallery(server.base_url)
        run = run_suite(tmp_path, "-m", "smoke", **remote(server))
        alice_now = gallery_now(server.base_url, ALICE)
        bob_now = gallery_now(server.base_url, BOB)

    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.output[-3000:]
    assert "the suite did not leave the target as it found it" in run.output, run.output[-3000:]
    assert "user A's gallery at the end of the run equals the one at its start" in run.output
    kept = [image for image in alice_now if image in seeded.galleries[ALICE]]
    assert kept == seeded.galleries[ALICE], f"seeded images now: {kept}"
    assert len(alice_now) > len(kept), "the fault left nothing behind; the check saw nothing"
    assert [image for image in bob_now if image in seeded.galleries[BOB]] == seeded.galleries[BOB]


def test_a_gallery_listed_as_null_fails_scenarios_not_the_session(tmp_path):
    """The session's own snapshot and end check must survive a listing that is no list."""
    with start_server(tmp_path / "data", USERS, faults=["empty_gallery_null"]) as server:
        run = run_suite(tmp_path, "-m", "smoke", **remote(server))

    assert "INTERNALERROR" not in run.output, run.output[-3000:]
    assert "did not leave the target as it found it" not in run.output, run.output[-3000:]
    assert run.returncode == pytest.ExitCode.TESTS_FAILED
    assert sorted(run.failed) == sorted(scenarios("smoke")), run.output[-3000:]


# 2. A target that cannot be tested stops the run at once, with one line.


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def silent_target():
    """A TCP server on 127.0.0.1 that accepts, reads every request, and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            held.append(connection)
            threading.Thread(target=_drain, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
    finally:
        listener.close()
        for connection in held:
            connection.close()


def _drain(connection: socket.socket) -> None:
    try:
        while connection.recv(65536):
            pass
    except OSError:
        pass


def timed_run(tmp_path: Path, *args: str, **settings: str) -> tuple[SuiteRun, float]:
    started = time.monotonic()
    run = run_suite(tmp_path, *args, timeout=60, **settings)
    return run, time.monotonic() - started


def console_lines(run: SuiteRun) -> list[str]:
    return [line for line in run.output.splitlines() if line.strip()]


def test_a_stopped_target_stops_the_run_within_10_s_with_one_line(tmp_path):
    base_url = f"http://127.0.0.1:{free_port()}/api/v1"

    run, seconds = timed_run(tmp_path, STRETCH_BASE_URL=base_url, STRETCH_TOKEN=ALICE)

    assert console_lines(run) == [
        f"ERROR: stretch preflight failed: the target at {base_url} did not answer: "
        "transport error: ConnectError: [Errno 111] Connection refused"
    ], run.output
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert run.total == 0, f"{run.total} scenarios ran; expected none"
    assert seconds < 10, f"the run took {seconds:.1f} s; expected under 10 s"


def test_a_target_that_never_answers_stops_the_run_after_the_preflight_wait(tmp_path):
    with silent_target() as base_url:
        run, seconds = timed_run(
            tmp_path, STRETCH_BASE_URL=base_url, STRETCH_TOKEN=ALICE, STRETCH_TOKEN_B=BOB
        )

    assert console_lines(run) == [
        f"ERROR: stretch preflight failed: the target at {base_url} did not answer: "
        "no answer within 10 s (the preflight's limit)"
    ], run.output
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert run.total == 0, f"{run.total} scenarios ran; expected none"
    assert 10 <= seconds < 14, f"the run took {seconds:.1f} s; expected the 10 s wait and a little"


@pytest.mark.parametrize(
    ("alice", "bob", "named"),
    [
        ("wrong-alice-token-Zt81", BOB, "STRETCH_TOKEN"),
        (ALICE, "wrong-bob-token-Yq35", "STRETCH_TOKEN_B"),
    ],
    ids=["user A", "user B"],
)
def test_a_wrong_token_stops_the_run_within_10_s_naming_the_variable(
    tmp_path, alice, bob, named
):
    with start_server(tmp_path / "data", USERS) as server:
        run, seconds = timed_run(
            tmp_path, STRETCH_BASE_URL=server.base_url, STRETCH_TOKEN=alice, STRETCH_TOKEN_B=bob
        )

    assert console_lines(run) == [
        f"ERROR: stretch preflight failed: the target at {server.base_url} refused {named} "
        "(401); check the token"
    ], run.output
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert run.total == 0, f"{run.total} scenarios ran; expected none"
    assert seconds < 10, f"the run took {seconds:.1f} s; expected under 10 s"
    for token in (alice, bob):
        assert token not in run.output


# 3. The production guard.

GUARD_REASON = (
    "destructive scenario refused: 127.0.0.1 matches the production pattern "
    "(STRETCH_PRODUCTION_PATTERN); set STRETCH_ALLOW_PRODUCTION=1 to run it anyway"
)
LOOPBACK_AS_PRODUCTION = r"^127\.0\.0\.1$"


def test_destructive_scenarios_refuse_a_host_matching_the_production_pattern(tmp_path, staging):
    server, seeded = staging

    run = run_suite(
        tmp_path, **remote(server, STRETCH_PRODUCTION_PATTERN=LOOPBACK_AS_PRODUCTION)
    )

    guarded = {name for name, reason in run.skipped.items() if reason == GUARD_REASON}
    assert guarded == set(scenarios("destructive")), f"skipped by the guard: {sorted(guarded)}"
    assert run.skipped.keys() - guarded == {EMPTY_GALLERY}, run.skipped
    assert run.passed == [] and run.failed == {}, run.output[-3000:]
    assert run.returncode == 0, run.output[-3000:]
    assert_untouched(server.base_url, seeded)


def test_destructive_scenarios_run_on_a_production_host_when_explicitly_allowed(
    tmp_path, staging
):
    server, seeded = staging
    settings = remote(
        server, STRETCH_PRODUCTION_PATTERN=LOOPBACK_AS_PRODUCTION, STRETCH_ALLOW_PRODUCTION="1"
    )

    run = run_suite(tmp_path, "-m", "smoke and destructive", **settings)

    assert run.failed == {} and run.skipped == {}, run.output[-3000:]
    assert sorted(run.passed) == sorted(scenarios("smoke and destructive"))
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(server.base_url) == {}


# 4. Two workers on one shared account.


def test_two_parallel_workers_pass_and_leave_the_seeded_gallery_untouched(tmp_path, staging):
    server, seeded = staging

    run = run_suite(tmp_path, "-n", "2", **remote(server))

    assert run.failed == {}, run.output[-4000:]
    assert run.skipped == {EMPTY_GALLERY: EMPTY_GALLERY_SKIP}, run.skipped
    assert sorted(run.passed) == sorted(set(scenarios()) - {EMPTY_GALLERY})
    assert run.returncode == 0, run.output[-2000:]
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(server.base_url) == {}


# 5. Endpoints that hang, and answers that are lost.


class HangingProxy:
    """A TCP proxy on 127.0.0.1 that never answers the first `limit` requests of one kind.

    A request whose first line starts with `hang_on` gets no answer; its connection is held open
    until the client gives up. With `forward`, the request still reaches the server (which acts
    on it), and only its answer is lost, as when a server dies or a network drops mid-answer.
    The reference server's faults hang every list or every update; this holds just the first
    delete, or loses just one answer.
    """

    def __init__(self, upstream_port: int, hang_on: bytes, forward: bool = False, limit: int = 0):
        self.upstream_port = upstream_port
        self.hang_on = hang_on
        self.forward = forward
        self.limit = limit  # 0: every matching request
        self.hung = 0  # how many requests got no answer
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/api/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _hangs(self, data: bytes) -> bool:
        # One request at a time per connection, so a request's first line opens a chunk.
        if not data.startswith(self.hang_on) or (self.limit and self.hung >= self.limit):
            return False
        self.hung += 1
        return True

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        answered = threading.Event()
        answered.set()
        threading.Thread(
            target=self._answers, args=(upstream, client, answered), daemon=True
        ).start()
        try:
            while data := client.recv(65536):
                if self._hangs(data):
                    answered.clear()
                    if not self.forward:
                        _drain(client)  # hold the connection until the client gives up
                        break
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            client.close()

    @staticmethod
    def _answers(upstream: socket.socket, client: socket.socket, answered: threading.Event):
        try:
            while data := upstream.recv(65536):
                if answered.is_set():
                    client.sendall(data)
        except OSError:
            pass  # either side closed; _serve closes both


@pytest.fixture
def staging_hanging_on_update(tmp_path: Path):
    """A seeded reference server whose update never answers (fault hang_on_update)."""
    server = start_server(tmp_path / "staging-data", USERS, faults=["hang_on_update"])
    try:
        yield server, seed_gallery(server.base_url)
    finally:
        server.stop()


def test_a_hung_update_fails_its_scenario_naming_the_request_and_the_run_goes_on(
    tmp_path, staging_hanging_on_update
):
    server, seeded = staging_hanging_on_update

    run, seconds = timed_run(tmp_path, "-m", "smoke", **remote(server, STRETCH_TIMEOUT="2"))

    hung = "test_updating_only_the_title_keeps_the_file"
    assert list(run.failed) == [hung], run.output[-3000:]
    assert re.search(
        rf"PUT {re.escape(server.base_url)}/storage/image/[0-9a-f-]{{36}} as user A: "
        r"no answer within 2 s \(STRETCH_TIMEOUT\)",
        run.failed[hung],
    ), run.failed[hung]
    smoke = scenarios("smoke")
    assert smoke.index(hung) < len(smoke) - 1, "no smoke scenario runs after the hung one"
    assert sorted(run.passed) == sorted(set(smoke) - {hung, EMPTY_GALLERY}), run.output[-3000:]
    assert list(run.skipped) == [EMPTY_GALLERY]
    assert run.returncode == pytest.ExitCode.TESTS_FAILED
    assert seconds < 30, f"the run took {seconds:.1f} s"
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(server.base_url) == {}


def test_a_scenario_out_of_time_fails_naming_the_request_it_waited_on(
    tmp_path, staging_hanging_on_update
):
    """The scenario's own limit (contract timeouts.scenario_seconds) is shorter than the wait."""
    server, seeded = staging_hanging_on_update
    contract = tmp_path / "contract.toml"
    text = (ROOT / "contract.toml").read_text(encoding="utf-8")
    assert "scenario_seconds = 300" in text, "contract.toml no longer holds scenario_seconds = 300"
    contract.write_text(text.replace("scenario_seconds = 300", "scenario_seconds = 3"))

    run = run_suite(tmp_path, "-m", "smoke", **remote(server, STRETCH_CONTRACT=str(contract)))

    hung = "test_updating_only_the_title_keeps_the_file"
    assert list(run.failed) == [hung], run.output[-3000:]
    assert re.search(
        r"Timeout \(>3\.0s\) from pytest-timeout\.\nwhile waiting \d+\.\d s for the answer to "
        rf"PUT {re.escape(server.base_url)}/storage/image/[0-9a-f-]{{36}} as user A",
        run.failed[hung],
    ), run.failed[hung]
    smoke = scenarios("smoke")
    assert sorted(run.passed) == sorted(set(smoke) - {hung, EMPTY_GALLERY}), run.output[-3000:]
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(server.base_url) == {}


def test_an_upload_whose_answer_never_came_is_still_deleted(tmp_path, staging):
    """The server stores an upload, but its answer is lost; the suite never learns the image's ID.

    On a shared account (two workers) a scenario deletes only what its ledger knows, so this
    image is the session's to find: the ledger noted the file's sha256 before sending it, and the
    last cleanup deletes an image not in the start snapshot only if its bytes are that file's.
    """
    server, seeded = staging
    lost = HangingProxy(port_of(server), b"POST /api/v1/storage/image ", forward=True, limit=1)
    try:
        settings = remote(server, STRETCH_BASE_URL=lost.base_url, STRETCH_TIMEOUT="2")
        run = run_suite(
            tmp_path, "-n", "2", "-k", "test_a_png_uploaded_with_a_title_keeps_its_title",
            **settings,
        )  # fmt: skip
    finally:
        lost.close()

    assert lost.hung == 1
    assert list(run.failed) == ["test_a_png_uploaded_with_a_title_keeps_its_title"], run.output
    assert "no answer within 2 s" in run.failed["test_a_png_uploaded_with_a_title_keeps_its_title"]
    assert "did not leave the target as it found it" not in run.output, run.output[-3000:]
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(lost.base_url) == {}


REVERSING = "test_a_complete_order_is_kept"  # uploads 3 images, then reverses the whole gallery


def kill_during_cleanup(tmp_path: Path, proxy: HangingProxy, server: RunningServer) -> LiveRun:
    """Run REVERSING through `proxy` (which holds the first delete) and SIGKILL it meanwhile.

    The kill lands while the scenario's cleanup waits on its first delete: its images are still
    stored and in the ledger, and the gallery is still in the reversed order.
    """
    settings = remote(server, STRETCH_BASE_URL=proxy.base_url)
    live = start_suite(tmp_path, "-k", REVERSING, **settings)
    deadline = time.monotonic() + 60
    while proxy.hung == 0 and live.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(live.process.pid, signal.SIGKILL)
    live.wait(10)
    assert proxy.hung == 1, live.output()[-3000:]
    return live


def seeded_order_now(base_url: str, seeded: Seeded, token: str) -> list[str]:
    """The seeded images' IDs in the order the gallery lists them now."""
    ids = {image.id for image in seeded.galleries[token]}
    return [image.id for image in gallery_now(base_url, token) if image.id in ids]


def test_a_run_killed_outright_is_undone_by_the_next_run(tmp_path, staging):
    """SIGKILL leaves no chance to clean up: the next run's start deletes what the ledger holds,
    and puts back the order the killed run found, since the gallery is still in one it set."""
    server, seeded = staging
    proxy = HangingProxy(port_of(server), b"DELETE /api/v1/storage/image/", limit=1)
    try:
        kill_during_cleanup(tmp_path, proxy, server)
        left = ledger_of(proxy.base_url).pending()
        extra = {image.id for token in USERS for image in gallery_now(server.base_url, token)}
        extra -= {image.id for images in seeded.galleries.values() for image in images}
        order_left = seeded_order_now(server.base_url, seeded, ALICE)
        settings = remote(server, STRETCH_BASE_URL=proxy.base_url)
        next_run = run_suite(tmp_path / "next", "-m", "not destructive", **settings)
    finally:
        proxy.close()

    assert len(left) == 3 and set(left) == extra, f"in the ledger: {left}; not seeded: {extra}"
    assert order_left == [image.id for image in reversed(seeded.galleries[ALICE])]
    assert next_run.returncode == 0, next_run.output[-3000:]
    assert_untouched(server.base_url, seeded)
    assert pending_in_ledger(proxy.base_url) == {} and ledger_of(proxy.base_url).orders() == {}


def test_the_next_run_leaves_an_order_a_person_chose_after_a_killed_run(tmp_path, staging):
    """Between the killed run and the next, someone arranges the gallery: that order stays."""
    server, seeded = staging
    proxy = HangingProxy(port_of(server), b"DELETE /api/v1/storage/image/", limit=1)
    try:
        kill_during_cleanup(tmp_path, proxy, server)
        with httpx.Client(base_url=server.base_url + "/", timeout=10) as http:
            listed = [r["id"] for r in http.get("storage/images", headers=_bearer(ALICE)).json()]
            seeded_ids = {image.id for image in seeded.galleries[ALICE]}
            kept = [image_id for image_id in listed if image_id in seeded_ids]
            # Neither the order the killed run found nor the reversed one it set.
            chosen = [i for i in listed if i not in seeded_ids] + [kept[1], kept[0], *kept[2:]]
            arranged = http.put(
                "storage/images/order", headers=_bearer(ALICE), json={"order": chosen}
            )
            assert arranged.status_code == 200, arranged.text
        settings = remote(server, STRETCH_BASE_URL=proxy.base_url)
        next_run = run_suite(tmp_path / "next", "-m", "not destructive", **settings)
    finally:
        proxy.close()

    assert next_run.returncode == 0, next_run.output[-3000:]
    assert seeded_order_now(server.base_url, seeded, ALICE) == [
        image_id for image_id in chosen if image_id in seeded_ids
    ]
    assert gallery_now(server.base_url, BOB) == seeded.galleries[BOB]
    assert pending_in_ledger(proxy.base_url) == {} and ledger_of(proxy.base_url).orders() == {}


# The ledger's notes and the order put back, on their own.


def test_a_sent_file_stays_noted_for_every_process_until_settled(tmp_path):
    path = tmp_path / "ledger.jsonl"
    worker = Ledger(path)
    worker.sending("A", "ab" * 32, 1234, "sunset.png")
    worker.sending("B", "cd" * 32, 99, None)

    Ledger(path).settled("cd" * 32)
    Ledger(path).compact()

    assert Ledger(path).unsettled() == {"ab" * 32: SentFile("A", 1234, "sunset.png")}
    assert Ledger(path).pending() == {}


def test_order_notes_survive_compact_until_settled(tmp_path):
    path = tmp_path / "ledger.jsonl"
    Ledger(path).order_at_start("A", ["i1", "i2", "i3"])
    Ledger(path).order_sent("A", ["i3", "i2", "i1"])
    Ledger(path).order_sent("B", ["j2", "j1"])
    Ledger(path).orders_settled("B")

    Ledger(path).compact()

    assert Ledger(path).orders() == {"A": OrderNotes(["i1", "i2", "i3"], [["i3", "i2", "i1"]])}


def test_compact_removes_the_file_once_nothing_is_open(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.sending("A", "ab" * 32, 1234, "sunset.png")
    ledger.created("A", "3f6c1d2e-0000-4000-8000-000000000001")
    ledger.gone("3f6c1d2e-0000-4000-8000-000000000001")
    ledger.settled("ab" * 32)
    ledger.order_at_start("A", ["i1"])
    ledger.orders_settled("A")

    ledger.compact()

    assert not path.exists(), path.read_text()


@pytest.mark.parametrize(
    ("before", "current", "wanted"),
    [
        (["a", "b", "c"], ["c", "b", "a"], ["a", "b", "c"]),
        (["a", "b", "c"], ["x", "c", "b", "y", "a"], ["x", "a", "b", "y", "c"]),
        (["a", "b", "c"], ["c", "a"], ["a", "c"]),
        (["a", "b", "c"], ["a", "x", "b", "c"], None),
        (["a", "b", "c"], ["c", "b", "b", "a"], None),
    ],
    ids=["reversed", "leftovers keep their places", "one gone", "already right", "twice"],
)
def test_order_to_restore(before, current, wanted):
    assert order_to_restore(before, current) == wanted
