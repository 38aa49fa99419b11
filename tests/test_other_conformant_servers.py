"""The suite against other correct servers: the reference server with legitimate other choices.

Where the API description is silent (contract.toml), a server that answers differently from the
reference server is still correct, and the suite must pass against it. Each choice of
reference_server/choices.py is first shown to change what the server answers; then the whole
suite runs, in remote mode, against profiles of compatible choices that together make a
plausible other server. Finally a contract narrowed to one answer fails exactly the scenarios
that judge that answer, so the contract's pins are shown to work.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest

from harness import images
from reference_server.choices import CHOICES, check_choice_names, describe_choices
from reference_server.config import DECIMAL_MAX_BYTES, DEFAULT_MAX_BYTES, ServerConfig
from reference_server.launcher import RunningServer, start_server
from tests.suite_runner import ROOT, SuiteRun, run_suite

USERS = {
    "alice": "other-servers-token-alice-7d2e",
    "bob": "other-servers-token-bob-51c9",
    "carol": "other-servers-token-carol-a06b",
    "dave": "other-servers-token-dave-3e84",
}
TOKENS = {token: user for user, token in USERS.items()}
FILE_BASE_MEMBERS = {
    "title", "description", "contentType", "id", "originFilename", "url", "thumb", "filesize",
    "status",
}  # fmt: skip
BINARY_LIMIT = 20 * 1_048_576
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")

PROFILES: dict[str, tuple[str, ...]] = {
    "strict-decimal": (
        "decimal_megabyte", "unauthenticated_403", "wrong_type_422", "bad_order_409",
        "foreign_image_403", "refuse_mismatched_names", "error_body_message",
        "update_answers_stretch_response", "untitled_is_empty",
    ),
    "lenient-async": (
        "new_upload_first", "batch_partly_stored", "update_answers_empty",
        "untitled_is_filename", "thumb_null", "description_empty", "extra_fields",
        "media_needs_token", "relative_media_urls",
    ),
    "plain-400": ("too_large_400", "wrong_type_400", "empty_file_422", "bad_order_422"),
    "mixed": (
        "decimal_megabyte", "too_large_400", "unauthenticated_403", "media_needs_token",
        "relative_media_urls", "batch_partly_stored", "wrong_type_400", "bad_order_422",
        "foreign_image_403", "error_body_message", "new_upload_first", "untitled_is_filename",
        "update_answers_stretch_response",
    ),
}
# Scenarios a profile may skip, and the contract key their reason must name.
CONTRACT_SKIPS = {
    "thumb_null": ("test_the_images_thumb_is_an_image", "responses.nullable"),
    "batch_partly_stored": (
        "test_a_refused_batch_stores_none_of_its_files", "gallery.batch_with_bad_file",
    ),
}  # fmt: skip


# ---- servers and calls ------------------------------------------------------------------------


@contextmanager
def serving(data_dir: Path, choices: tuple[str, ...] = ()) -> Iterator[RunningServer]:
    server = start_server(data_dir, TOKENS, choices=choices)
    try:
        yield server
    finally:
        tail = server.stderr_tail()
        server.stop()
        assert "Traceback" not in tail, f"the server logged an unhandled error:\n{tail}"


class Caller:
    """Plain httpx calls to one server, as one of the four users (or nobody)."""

    def __init__(self, server: RunningServer):
        self.origin = server.origin
        # trust_env=False: a proxy from the environment must never see this traffic.
        self.http = httpx.Client(base_url=server.base_url, trust_env=False, timeout=60)

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, user: str | None = "carol", token: str = "", **kw
    ) -> httpx.Response:
        """`user` None sends no token; a `token` given replaces the user's."""
        secret = token or USERS.get(user or "")
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return self.http.request(method, path, headers=headers, **kw)

    def upload(
        self,
        data: bytes,
        name: str = "photo.png",
        declared: str = "image/png",
        user: str = "carol",
        title: str | None = None,
    ) -> httpx.Response:
        fields = {"title": title} if title is not None else None
        files = {"file": (name, data, declared)}
        return self.call("POST", "/storage/image", user, files=files, data=fields)

    def stored(self, user: str = "carol", **kw) -> dict:
        """Upload a small PNG that must be stored; its FileBase."""
        reply = self.upload(images.png_bytes(seed=next_seed()), user=user, **kw)
        assert reply.status_code == 200, f"setting up: upload answered {reply.text}"
        return reply.json()

    def ids(self, user: str = "carol") -> list[str]:
        return [record["id"] for record in self.call("GET", "/storage/images", user).json()]

    def fetch(self, url: str, user: str | None) -> int:
        absolute = url if url.startswith("http") else self.origin + url
        return self.call("GET", absolute, user).status_code


_seeds = itertools.count(1000)


def next_seed() -> int:
    """A fresh seed, so no two probe images share bytes."""
    return next(_seeds)


def shape(reply: httpx.Response) -> str:
    """'validation' for FastAPI's 422 shape, 'detail' for a plain message, else the body."""
    detail = reply.json().get("detail")
    items = detail if isinstance(detail, list) else []
    if items and all({"loc", "msg", "type"} <= set(item) for item in items):
        return "validation"
    return "detail" if isinstance(detail, str) else reply.text


def update_answer(reply: httpx.Response, image_id: str) -> str:
    if not reply.content:
        return "empty"
    body = reply.json()
    if body == {"status": "success"}:
        return "StretchResponse"
    return "FileBase" if body.get("id") == image_id else reply.text


def where_landed(ids: list[str], new: list[str]) -> str:
    if ids[: len(new)] == new:
        return "start"
    return "end" if ids[-len(new) :] == new else f"elsewhere: {ids}"


# ---- what each choice changes -----------------------------------------------------------------

# choice -> (observation, value with the choice on, value on the reference server)
OBSERVATIONS: dict[str, tuple[Callable[[Caller], object], object, object]] = {}


def observes(choice: str, chosen: object, reference: object) -> Callable:
    def register(observe: Callable[[Caller], object]) -> Callable[[Caller], object]:
        OBSERVATIONS[choice] = (observe, chosen, reference)
        return observe

    return register


@observes("decimal_megabyte", chosen=(200, 413), reference=(200, 200))
def _(api: Caller) -> object:
    return tuple(
        api.upload(images.png_bytes(size), "big.png").status_code
        for size in (DECIMAL_MAX_BYTES, DECIMAL_MAX_BYTES + 1)
    )


@observes("unauthenticated_403", chosen=(403, 403), reference=(401, 401))
def _(api: Caller) -> object:
    return tuple(
        api.call("GET", "/storage/images", None, token=token).status_code
        for token in ("", "a-token-nobody-was-given")
    )


@observes("too_large_400", chosen=(400, "detail"), reference=(413, "detail"))
def _(api: Caller) -> object:
    reply = api.upload(images.png_bytes(BINARY_LIMIT + 1), "big.png")
    return reply.status_code, shape(reply)


@observes("wrong_type_422", chosen=(422, "validation"), reference=(415, "detail"))
def _(api: Caller) -> object:
    reply = api.upload(images.gif_bytes(), "anim.gif", "image/gif")
    return reply.status_code, shape(reply)


@observes("wrong_type_400", chosen=(400, "detail"), reference=(415, "detail"))
def _(api: Caller) -> object:
    reply = api.upload(images.gif_bytes(), "anim.gif", "image/gif")
    return reply.status_code, shape(reply)


@observes("empty_file_422", chosen=(422, "validation"), reference=(400, "detail"))
def _(api: Caller) -> object:
    reply = api.upload(b"", "nothing.png")
    return reply.status_code, shape(reply)


def _bad_order(api: Caller) -> object:
    api.stored()
    reply = api.call("PUT", "/storage/images/order", json={"order": [str(uuid.uuid4())]})
    return reply.status_code, shape(reply)


observes("bad_order_409", chosen=(409, "detail"), reference=(400, "detail"))(_bad_order)
observes("bad_order_422", chosen=(422, "validation"), reference=(400, "detail"))(_bad_order)


@observes("foreign_image_403", chosen=(403, 403), reference=(404, 404))
def _(api: Caller) -> object:
    daves = api.stored(user="dave")["id"]
    updated = api.call("PUT", f"/storage/image/{daves}", data={"title": "Mine now"})
    deleted = api.call("DELETE", f"/storage/image/{daves}")
    return updated.status_code, deleted.status_code


@observes("new_upload_first", chosen=("start", "start"), reference=("end", "end"))
def _(api: Caller) -> object:
    api.stored()
    single = api.stored()["id"]
    landed_single = where_landed(api.ids(), [single])
    files = [("files", (f"b{n}.png", images.png_bytes(seed=next_seed()), "image/png"))
             for n in range(2)]  # fmt: skip
    batch = api.call("POST", "/storage/images", files=files).json()
    return landed_single, where_landed(api.ids(), [record["id"] for record in batch])


@observes("batch_partly_stored", chosen=(200, ["good.png"], 1), reference=(415, None, 0))
def _(api: Caller) -> object:
    before = len(api.ids())
    files = [
        ("files", ("good.png", images.png_bytes(seed=next_seed()), "image/png")),
        ("files", ("bad.gif", images.gif_bytes(), "image/gif")),
    ]
    reply = api.call("POST", "/storage/images", files=files)
    answered = [r["originFilename"] for r in reply.json()] if reply.status_code == 200 else None
    return reply.status_code, answered, len(api.ids()) - before


def _update_title(api: Caller) -> object:
    image_id = api.stored(title="Before")["id"]
    reply = api.call("PUT", f"/storage/image/{image_id}", data={"title": "After"})
    listed = [r for r in api.call("GET", "/storage/images").json() if r["id"] == image_id]
    return reply.status_code, update_answer(reply, image_id), listed[0]["title"]


observes(
    "update_answers_stretch_response",
    chosen=(200, "StretchResponse", "After"),
    reference=(200, "FileBase", "After"),
)(_update_title)
observes(
    "update_answers_empty",
    chosen=(204, "empty", "After"),
    reference=(200, "FileBase", "After"),
)(_update_title)


def _untitled(api: Caller) -> object:
    return api.stored(name="Carol's photo.png")["title"]


observes("untitled_is_filename", chosen="Carol's photo.png", reference=None)(_untitled)
observes("untitled_is_empty", chosen="", reference=None)(_untitled)


@observes("thumb_null", chosen=True, reference=False)
def _(api: Caller) -> object:
    return api.stored()["thumb"] is None


@observes("description_empty", chosen="", reference=None)
def _(api: Caller) -> object:
    return api.stored()["description"]


@observes(
    "media_needs_token",
    chosen={"url": (401, 401, 200), "thumb": (401, 401, 200)},
    reference={"url": (200, 200, 200), "thumb": (200, 200, 200)},
)
def _(api: Caller) -> object:
    record = api.stored()
    return {
        member: tuple(api.fetch(record[member], user) for user in (None, "dave", "carol"))
        for member in ("url", "thumb")
    }


@observes(
    "relative_media_urls",
    chosen=("/media/{id}", "/media/{id}/thumb"),
    reference=("{origin}/media/{id}", "{origin}/media/{id}/thumb"),
)
def _(api: Caller) -> object:
    record = api.stored()
    return tuple(
        record[member].replace(api.origin, "{origin}").replace(record["id"], "{id}")
        for member in ("url", "thumb")
    )


@observes(
    "extra_fields",
    chosen=(["createdAt", "height", "width"], 40, 30, True),
    reference=([], None, None, False),
)
def _(api: Caller) -> object:
    reply = api.upload(images.png_bytes(width=40, height=30, seed=next_seed()))
    record = reply.json()
    extra = sorted(set(record) - FILE_BASE_MEMBERS)
    created = record.get("createdAt")
    iso = isinstance(created, str) and ISO_UTC.fullmatch(created) is not None
    return extra, record.get("width"), record.get("height"), iso


@observes("refuse_mismatched_names", chosen=(415, 415, 415, 200), reference=(200, 200, 200, 200))
def _(api: Caller) -> object:
    png = images.png_bytes(seed=next_seed())
    labels = [
        ("poster.gif", "image/gif"),
        ("poster.png", "image/gif"),
        ("poster.gif", "image/png"),
    ]
    statuses = [api.upload(png, name, declared).status_code for name, declared in labels]
    jpeg = images.jpeg_bytes(seed=next_seed())
    return *statuses, api.upload(jpeg, "poster.jpeg", "image/jpeg").status_code


@observes(
    "error_body_message",
    chosen=(
        {"detail": "Image not found.", "code": "not_found"},
        {"detail": "Not authenticated", "code": "unauthenticated"},
    ),
    reference=({"detail": "Image not found."}, {"detail": "Not authenticated"}),
)
def _(api: Caller) -> object:
    unknown = api.call("DELETE", f"/storage/image/{uuid.uuid4()}")
    anonymous = api.call("GET", "/storage/images", None)
    return unknown.json(), anonymous.json()


@pytest.fixture(scope="module")
def reference_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(tmp_path_factory.mktemp("reference-data")) as server:
        yield server


@pytest.mark.parametrize("choice", sorted(CHOICES))
def test_each_choice_changes_what_the_server_answers(
    choice: str, reference_server: RunningServer, tmp_path: Path
):
    observe, chosen, reference = OBSERVATIONS[choice]
    with serving(tmp_path / "data", (choice,)) as server, closing(Caller(server)) as api:
        seen_with_choice = observe(api)
    with closing(Caller(reference_server)) as api:
        seen_on_reference = observe(api)

    assert seen_with_choice == chosen, (
        f"with --choice {choice} ({CHOICES[choice]}): observed {seen_with_choice!r}, "
        f"expected {chosen!r}"
    )
    assert seen_on_reference == reference, (
        f"the reference server (no choice): observed {seen_on_reference!r}, "
        f"expected {reference!r}"
    )


# ---- the catalogue ----------------------------------------------------------------------------


def test_every_choice_is_observed_and_in_a_profile_of_compatible_choices():
    in_profiles = {choice for choices in PROFILES.values() for choice in choices}

    assert set(OBSERVATIONS) == set(CHOICES)
    same = [name for name, (_, chosen, reference) in OBSERVATIONS.items() if chosen == reference]
    assert same == [], "observations that could not tell a choice from the reference server"
    assert sorted(set(CHOICES) - in_profiles) == [], "choices in no profile"
    for name, choices in PROFILES.items():
        assert check_choice_names(choices) == frozenset(choices), name


def test_list_choices_prints_the_catalogue():
    done = subprocess.run(
        [sys.executable, "-m", "reference_server", "--list-choices"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == describe_choices()
    assert len(describe_choices()) == 22


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        (("no_such_choice",), "unknown choice 'no_such_choice'"),
        (("wrong_type_422", "wrong_type_400"), "choices 'wrong_type_400' and 'wrong_type_422'"),
    ],
)
def test_an_unknown_or_clashing_choice_stops_start_up(tmp_path: Path, choices, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        start_server(tmp_path, TOKENS, choices=choices)


def test_config_asks_only_for_known_choices_and_reads_megabytes(tmp_path: Path):
    decimal = ServerConfig(data_dir=tmp_path, tokens=TOKENS, choices={"decimal_megabyte"})
    small = ServerConfig(
        data_dir=tmp_path, tokens=TOKENS, choices={"decimal_megabyte"}, max_bytes=1000
    )

    assert (decimal.max_bytes, small.max_bytes) == (DECIMAL_MAX_BYTES, 1000)
    assert ServerConfig(data_dir=tmp_path, tokens=TOKENS).max_bytes == DEFAULT_MAX_BYTES
    assert decimal.choice("decimal_megabyte") and not decimal.choice("thumb_null")
    with pytest.raises(KeyError, match="choice 'thumb_nul' is not in the catalogue"):
        decimal.choice("thumb_nul")


# ---- the whole suite against each profile -----------------------------------------------------


def run_against(server: RunningServer, tmp_path: Path, contract: Path | None = None) -> SuiteRun:
    settings = {"STRETCH_CONTRACT": str(contract)} if contract else {}
    return run_suite(
        tmp_path,
        STRETCH_BASE_URL=server.base_url,
        STRETCH_TOKEN=USERS["alice"],
        STRETCH_TOKEN_B=USERS["bob"],
        **settings,
    )


def narrowed_contract(tmp_path: Path, line: str, narrowed: str) -> Path:
    """A copy of the committed contract with one line replaced."""
    text = (ROOT / "contract.toml").read_text(encoding="utf-8")
    assert text.count(f"\n{line}\n") == 1, f"contract.toml has no single line {line!r}"
    path = tmp_path / "narrowed-contract.toml"
    path.write_text(text.replace(f"\n{line}\n", f"\n{narrowed}\n"), encoding="utf-8")
    return path


def failure_report(run: SuiteRun) -> str:
    lines = [f"{name}: {message[:600]}" for name, message in run.failed.items()]
    return "\n".join(lines) or run.output[-3000:]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_whole_suite_passes_against_another_correct_server(profile: str, tmp_path: Path):
    choices = PROFILES[profile]
    with serving(tmp_path / "data", choices) as server:
        run = run_against(server, tmp_path)

    assert run.failed == {}, f"profile {profile}:\n{failure_report(run)}"
    assert run.returncode == 0, run.output[-3000:]
    expected_skips = {CONTRACT_SKIPS[c][0]: CONTRACT_SKIPS[c][1] for c in choices
                      if c in CONTRACT_SKIPS}  # fmt: skip
    assert sorted(run.skipped) == sorted(expected_skips), run.skipped
    for name, key in expected_skips.items():
        assert key in run.skipped[name], f"{name} skipped without naming {key}: {run.skipped}"
    assert len(run.passed) >= 60


ACCESS_ACTIONS = (
    "listing Alice's gallery", "uploading an image", "uploading several images",
    "reordering Alice's gallery", "updating Alice's image", "deleting Alice's image",
)  # fmt: skip
# profile, contract line and its narrowed form, the scenarios that must fail, and what each
# failure message must say.
NARROWED = {
    "megabyte binary": (
        "strict-decimal",
        'megabyte = "auto"',
        'megabyte = "binary"',
        [f"test_a_type_file_of_exactly_the_size_limit_is_accepted[{t}]" for t in ("JPEG", "PNG")],
        (f"{BINARY_LIMIT} bytes", "received: 413"),
    ),
    "new uploads at the end": (
        "lenient-async",
        'new_upload_position = "either"',
        'new_upload_position = "end"',
        ["test_a_new_upload_lands_at_the_start_or_the_end_of_the_gallery_as_the_contract_allows"],
        ("gallery.new_upload_position = 'end'",),
    ),
    "batches rejected whole": (
        "lenient-async",
        'batch_with_bad_file = "either"',
        'batch_with_bad_file = "rejected_whole"',
        [
            "test_a_batch_holding_one_bad_file_where_stores_no_bad_file[first-bad.gif-good.png]",
            "test_a_batch_holding_one_bad_file_where_stores_no_bad_file[last-good.png-bad.gif]",
            "test_a_refused_batch_stores_none_of_its_files",
        ],
        ("the request is refused as the wrong type", "received: 200"),
    ),
    "mismatched names accepted": (
        "strict-decimal",
        'mismatched_name_with_valid_bytes = "either"',
        'mismatched_name_with_valid_bytes = "accept"',
        ["test_png_bytes_in_a_file_named_like_a_gif_are_judged_as_the_contract_allows"],
        ("upload.mismatched_name_with_valid_bytes", "received: 422"),
    ),
    "unauthenticated only 401": (
        "strict-decimal",
        "unauthenticated = [401, 403]",
        "unauthenticated = [401]",
        sorted(
            f"test_action_{how}_is_refused[{action}]"
            for how in ("without_a_token", "with_a_wrong_token")
            for action in ACCESS_ACTIONS
        ),
        ("received: 403", "expected: status 401"),
    ),
}


@pytest.mark.parametrize("case", list(NARROWED))
def test_a_narrowed_contract_fails_exactly_the_scenarios_that_judge_the_point(
    case: str, tmp_path: Path
):
    profile, line, narrowed, expected_failures, said = NARROWED[case]
    contract = narrowed_contract(tmp_path, line, narrowed)
    with serving(tmp_path / "data", PROFILES[profile]) as server:
        run = run_against(server, tmp_path, contract)

    assert sorted(run.failed) == expected_failures, failure_report(run)
    for name, message in run.failed.items():
        missing = [words for words in said if words not in message]
        assert missing == [], f"{name}: the failure does not say {missing}:\n{message}"
    assert run.returncode == 1
