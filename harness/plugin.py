"""The suite's pytest plugin: settings, preflight, per-scenario world, cleanup.

Registered by the root conftest. It acts only when the run selects the conformance suite (plain
`pytest`, or paths under steps/ or features/), so the project's own tests under tests/ never
start a server or touch a target.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness import reporting
from harness.config import load_settings
from harness.errors import ConformanceFailure, SettingError, TransportFailure
from harness.session import STATE_DIR, PreflightError, SuiteSession
from harness.world import World

log = logging.getLogger("stretch.suite")
SESSION = pytest.StashKey[SuiteSession]()
PROBLEMS = pytest.StashKey[list]()
# The benchmark (python -m bench) names a file here; each process of the run appends one line.
FAILED_STEP = pytest.StashKey[str]()
UNREACHABLE_IN_A_ROW = pytest.StashKey[int]()
# Scenarios in a row that could not connect at all before the run stops: one may hit a restart,
# three mean the target is gone, and every further scenario would only repeat the same failure.
UNREACHABLE_LIMIT = 3
BENCH_STATS_ENV = "STRETCH_BENCH_STATS"
BENCH_MARKS = pytest.StashKey[dict]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_controller(config: pytest.Config) -> bool:
    """The xdist process that hands out scenarios and runs none itself."""
    return not _is_worker(config) and bool(getattr(config.option, "numprocesses", None))


def _suite_selected(config: pytest.Config) -> bool:
    """True unless every path the run was given lies outside the suite (tests/, say)."""
    root = config.rootpath
    suite_dirs = (root / "steps", root / "features")
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == root or any(path == d or d in path.parents or path in d.parents
                               for d in suite_dirs):  # fmt: skip
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    if not _suite_selected(config):
        return
    try:
        settings = load_settings()
    except SettingError as exc:
        raise pytest.UsageError(f"stretch settings: {exc}") from None
    config.stash[SESSION] = SuiteSession(settings)
    config.stash[PROBLEMS] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or SESSION not in config.stash:
        return
    _bench_mark(config, "session_started_at")
    suite = config.stash[SESSION]
    embedded = suite.settings.embedded
    # Embedded: every process that runs scenarios starts its own server, so workers never share a
    # gallery. Remote: one process checks the target and takes the snapshot for the whole run.
    if embedded and _is_controller(config):
        return
    try:
        suite.start()
        _report_to_allure(suite)
        if not _is_worker(config):
            suite.preflight()
            if not embedded:
                for problem in suite.clean_leftovers():
                    log.warning("%s", problem)
                suite.take_snapshot()
    except (PreflightError, SettingError) as exc:
        suite.stop()
        # A usage error is printed once, as one line; pytest.exit would print it twice (stderr,
        # then again inside a "!!! _pytest.outcomes.Exit" banner).
        raise pytest.UsageError(f"stretch preflight failed: {exc}") from None


def _report_to_allure(suite: SuiteSession) -> None:
    for token in suite.tokens.values():
        reporting.register_secret(token)
    reporting.set_target(suite.base_url, suite.settings.embedded)
    suite.client.listeners.append(reporting.attach_exchange)


@pytest.hookimpl(tryfirst=True)  # before allure-pytest-bdd closes the step, so it lands there
def pytest_bdd_step_error(request, feature, scenario, step, step_func, step_func_args, exception):
    request.node.stash[FAILED_STEP] = f"{step.keyword} {step.name}".strip()
    reporting.attach_failure(exception)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when != "call" or SESSION not in item.config.stash:
        return report
    failure = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(failure, (ConformanceFailure, TransportFailure)):
        _compact(item, report, failure)
    _watch_target(item, failure)
    return report


def _compact(item: pytest.Item, report: pytest.TestReport, failure: BaseException) -> None:
    """A rule broken by the server reads as the step and the message, without our own frames.

    `--tb=long` (or native) keeps pytest's full traceback.
    """
    if item.config.option.tbstyle in ("long", "native"):
        return
    step = item.stash.get(FAILED_STEP, "")
    notes = "".join(f"\n{note}" for note in getattr(failure, "__notes__", ()))
    report.longrepr = f"{step}\n{type(failure).__name__}: {failure}{notes}".lstrip("\n")


def _watch_target(item: pytest.Item, failure: BaseException | None) -> None:
    """Stop the run once the target is gone, rather than fail every scenario the same way."""
    stash = item.config.stash
    if isinstance(failure, TransportFailure) and failure.unreachable:
        stash[UNREACHABLE_IN_A_ROW] = stash.get(UNREACHABLE_IN_A_ROW, 0) + 1
    else:
        stash[UNREACHABLE_IN_A_ROW] = 0
    if stash[UNREACHABLE_IN_A_ROW] >= UNREACHABLE_LIMIT:
        item.session.shouldstop = (
            f"stretch: the target stopped answering ({UNREACHABLE_LIMIT} scenarios in a row "
            f"could not connect; last: {failure})"
        )


def pytest_collection_finish(session: pytest.Session) -> None:
    _bench_mark(session.config, "scenarios_from")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    suite = config.stash.get(SESSION, None)
    if suite is None:
        return
    _bench_mark(config, "scenarios_until")
    if suite.client is None:
        _write_bench_stats(config, suite)
        return
    # Remote workers clean per scenario; the process that took the snapshot judges the end state.
    try:
        problems = suite.finish() if not _is_worker(config) or suite.settings.embedded else []
        _write_bench_stats(config, suite)
    finally:
        suite.stop()
    if problems:
        config.stash[PROBLEMS].extend(problems)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _bench_mark(config: pytest.Config, name: str) -> None:
    """Note when a phase of the run began (epoch seconds), only for the benchmark."""
    if os.environ.get(BENCH_STATS_ENV):
        config.stash.setdefault(BENCH_MARKS, {})[name] = time.time()


def _write_bench_stats(config: pytest.Config, suite: SuiteSession) -> None:
    """For the benchmark: append this process's peak RSS, phase marks and server busy time."""
    path = os.environ.get(BENCH_STATS_ENV)
    if not path:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    record: dict[str, object] = {
        "process": config.workerinput["workerid"] if _is_worker(config) else "main",
        "test_rss_kb": usage.ru_maxrss,
        "test_cpu_seconds": usage.ru_utime + usage.ru_stime,
        **config.stash.get(BENCH_MARKS, {}),
    }
    server = suite.server
    if server is not None:
        try:
            record.update(server.stats())
        except (OSError, ValueError) as exc:
            log.warning("the embedded server's stats could not be read: %s", exc)
        record["server_rss_kb"] = _peak_rss_kb(server.pid)
    # One short write in append mode: the lines of several workers never interleave.
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")


def _peak_rss_kb(pid: int) -> int | None:
    """VmHWM of a running process, from /proc (Linux); None where that is not readable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    suite = config.stash.get(SESSION, None)
    if suite is not None and suite.deletions:
        terminalreporter.section("images the suite deleted in its own cleanup")
        for line in suite.deletions:
            terminalreporter.line(line)
    if suite is not None and suite.settings.is_production and not suite.settings.allow_production:
        guarded = len(terminalreporter.stats.get("skipped", []))
        terminalreporter.line(
            f"stretch: {guarded} scenario(s) skipped: {suite.settings.host} matches "
            "STRETCH_PRODUCTION_PATTERN (set STRETCH_ALLOW_PRODUCTION=1 to run them)",
            yellow=True,
        )
    problems = config.stash.get(PROBLEMS, [])
    if problems:
        terminalreporter.section("the suite did not leave the target as it found it", red=True)
        for problem in problems:
            terminalreporter.line(problem, red=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SESSION not in config.stash:
        return
    seed = config.getoption("shuffle")
    if seed is not None:
        random.Random(seed).shuffle(items)
    suite = config.stash[SESSION]
    settings = suite.settings
    for item in items:
        item.add_marker(pytest.mark.timeout(settings.contract.scenario_seconds))
        if item.get_closest_marker("known_gap"):
            item.add_marker(
                pytest.mark.xfail(
                    strict=True, reason="known gap of the server under test (tag @known_gap)"
                )
            )
        if item.get_closest_marker("destructive") and settings.is_production:
            if not settings.allow_production:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"destructive scenario refused: {settings.host} matches the "
                        "production pattern (STRETCH_PRODUCTION_PATTERN); set "
                        "STRETCH_ALLOW_PRODUCTION=1 to run it anyway"
                    )
                )
        if item.get_closest_marker("two_users") and not settings.embedded:
            if not settings.token_b:
                item.add_marker(
                    pytest.mark.skip(reason="needs a second user: STRETCH_TOKEN_B is not set")
                )


@pytest.fixture(scope="session")
def suite(request: pytest.FixtureRequest) -> SuiteSession:
    session = request.config.stash.get(SESSION, None)
    if session is None or session.client is None:
        pytest.fail("the suite's session did not start (see the preflight message above)")
    return session


@contextmanager
def _gallery_lock(suite: SuiteSession, exclusive: bool):
    """Scenarios that judge the whole gallery never interleave with others on a shared account."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path = STATE_DIR / f"gallery-{suite.target_key}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def world(request: pytest.FixtureRequest, suite: SuiteSession):
    whole_gallery = request.node.get_closest_marker("whole_gallery") is not None
    shared_account = not suite.settings.embedded and _is_worker(request.config)
    users = ["A", "B"] if request.node.get_closest_marker("two_users") else ["A"]
    api = suite.api()
    scene = World(
        api=api,
        contract=suite.settings.contract,
        exclusive=whole_gallery or not shared_account,
        users=users,
    )
    lock = _gallery_lock(suite, whole_gallery) if shared_account else _no_lock()
    with lock:
        scene.begin()
        yield scene
        problems = scene.clean_up()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@contextmanager
def _no_lock():
    yield


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature, scenario) -> None:
    """Every answer was schema-checked on arrival; one nobody looked at still fails the scenario."""
    if sys.exc_info()[0] is not None or "world" not in request.fixturenames:
        return
    scene: World = request.getfixturevalue("world")
    for reply in scene.api.replies:
        if reply.schema_error is not None and not reply.reported:
            reply.reported = True
            raise reply.schema_error
