"""Measure the suite as child processes: wall time, peak RSS, the server's busy time, start-up."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from harness.config import child_environ
from harness.plugin import BENCH_STATS_ENV

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
OUTPUT_TAIL = 3000


class BenchError(Exception):
    """A measurement that cannot be trusted: the run failed or reported nothing."""


@dataclass(frozen=True)
class ProcessStats:
    """One line of the stats file: a process of the run and, if it started one, its server."""

    process: str  # "main", or the xdist worker id ("gw0", ...)
    test_rss_kb: int
    test_cpu_seconds: float = 0.0
    # Epoch seconds: pytest_sessionstart, the end of collection, pytest_sessionfinish.
    session_started_at: float | None = None
    scenarios_from: float | None = None
    scenarios_until: float | None = None
    busy_seconds: float | None = None
    requests: int | None = None
    server_rss_kb: int | None = None

    @property
    def has_server(self) -> bool:
        return self.busy_seconds is not None


@dataclass(frozen=True)
class SuiteRun:
    """One child run of the suite."""

    wall_seconds: float
    tree_rss_kb: int  # from wait4: the largest of pytest and every process it reaped
    tree_cpu_seconds: float  # from wait4: user + system time of pytest and what it reaped
    processes: tuple[ProcessStats, ...]
    summary: str  # pytest's last line, e.g. "69 passed in 1.83s"
    spawned_at: float = 0.0  # epoch seconds, comparable with the marks of ProcessStats
    exited_at: float = 0.0

    @property
    def servers(self) -> list[ProcessStats]:
        return [p for p in self.processes if p.has_server]

    @property
    def busy_seconds(self) -> float:
        """Busy time summed over every embedded server of the run (one per xdist worker)."""
        return sum(p.busy_seconds for p in self.servers)

    @property
    def requests(self) -> int:
        return sum(p.requests or 0 for p in self.servers)

    @property
    def test_rss_kb(self) -> int:
        """The peak RSS of the largest pytest process (controller or worker) of the run."""
        return max(p.test_rss_kb for p in self.processes)

    @property
    def server_rss_kb(self) -> int | None:
        sizes = [p.server_rss_kb for p in self.servers if p.server_rss_kb is not None]
        return max(sizes) if sizes else None

    def phases(self) -> dict[str, float] | None:
        """Where a single-process run's wall time went; None for a run with workers."""
        mains = [p for p in self.servers if p.process == "main"]
        if len(mains) != 1:
            return None
        main = mains[0]
        marks = (self.spawned_at, main.session_started_at, main.scenarios_from,
                 main.scenarios_until, self.exited_at)  # fmt: skip
        if None in marks:
            return None
        return {name: end - begin for name, begin, end in zip(PHASES, marks, marks[1:])}


PHASES = (
    "start-up: interpreter, pytest, plugins, step modules",
    "embedded server start and collection",
    "scenarios",
    "end: final cleanup, server stop, exit",
)


@dataclass(frozen=True)
class SuiteFigures:
    """Repeated runs of one selection of the suite, summed up."""

    label: str
    args: tuple[str, ...]
    runs: tuple[SuiteRun, ...]

    @property
    def wall_seconds(self) -> float:
        return statistics.median(r.wall_seconds for r in self.runs)

    @property
    def busy_seconds(self) -> float:
        return statistics.median(r.busy_seconds for r in self.runs)

    @property
    def requests(self) -> int:
        return self.runs[0].requests

    @property
    def overhead_ratio(self) -> float:
        """Suite wall time over server busy time: 1.0 would mean the harness costs nothing."""
        return self.wall_seconds / self.busy_seconds

    @property
    def test_rss_kb(self) -> int:
        return max(r.test_rss_kb for r in self.runs)

    @property
    def tree_cpu_seconds(self) -> float:
        return statistics.median(r.tree_cpu_seconds for r in self.runs)

    @property
    def test_cpu_seconds(self) -> float:
        """CPU time of the pytest processes alone (controller and workers), median of the runs."""
        return statistics.median(sum(p.test_cpu_seconds for p in r.processes) for r in self.runs)

    @property
    def server_rss_kb(self) -> int | None:
        sizes = [r.server_rss_kb for r in self.runs if r.server_rss_kb is not None]
        return max(sizes) if sizes else None

    @property
    def summary(self) -> str:
        return self.runs[-1].summary

    def phases(self) -> dict[str, float] | None:
        """The median of each phase over the runs; None for runs with workers."""
        split = [r.phases() for r in self.runs]
        if any(s is None for s in split):
            return None
        return {name: statistics.median(s[name] for s in split) for name in PHASES}


def child_env(stats_path: Path, pycache: Path | None = None) -> dict[str, str]:
    """The parent's environment with every suite setting blanked and the stats file named.

    With `pycache`, bytecode (pytest's rewritten modules too) is cached there, outside the tree,
    even when the environment says PYTHONDONTWRITEBYTECODE.
    """
    env = child_environ(**{BENCH_STATS_ENV: str(stats_path)})
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def read_stats(path: Path) -> tuple[ProcessStats, ...]:
    """Parse the stats file the suite's processes appended to, one JSON object a line."""
    if not path.exists():
        raise BenchError(f"the run wrote no stats to {path} ({BENCH_STATS_ENV} ignored?)")
    known = {f.name for f in fields(ProcessStats)}
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            entry = json.loads(line)
            records.append(ProcessStats(**{k: v for k, v in entry.items() if k in known}))
        except (json.JSONDecodeError, TypeError, AttributeError) as exc:
            raise BenchError(f"{path} line {number} is not a stats record: {line!r} ({exc})")
    if not any(r.has_server for r in records):
        raise BenchError(f"{path}: no process reported an embedded server; was the run embedded?")
    return tuple(records)


def run_suite(
    args: tuple[str, ...], pycache: Path | None = None, timeout: float = 900
) -> SuiteRun:
    """One child run of `pytest -q` with `args`, timed from spawn to reaping."""
    workdir = Path(tempfile.mkdtemp(prefix="stretch-bench-"))
    stats_path = workdir / "stats.jsonl"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    try:
        spawned_at = time.time()
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(stats_path, pycache),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output, status, usage = _reap(child, timeout)
        wall = time.perf_counter() - started
        exited_at = time.time()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise BenchError(
                f"{' '.join(command[2:])} failed with exit code {code}; a failing run's timings "
                f"mean nothing. Its output ends:\n{output[-OUTPUT_TAIL:]}"
            )
        processes = read_stats(stats_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    cpu = usage.ru_utime + usage.ru_stime
    return SuiteRun(wall, usage.ru_maxrss, cpu, processes, summary, spawned_at, exited_at)


def _reap(child: subprocess.Popen[bytes], timeout: float) -> tuple[str, int, os.struct_rusage]:
    """Read the child's output to its end, then reap it with wait4 for its resource usage."""
    # The output of `pytest -q` is small; reading it whole before reaping cannot fill the pipe.
    killer = _Deadline(child, timeout)
    try:
        output = child.stdout.read().decode("utf-8", "replace")
        child.stdout.close()
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        killer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)
    return output, status, usage


class _Deadline:
    """Kill a child that runs past its time, so a hung suite cannot hang the benchmark."""

    def __init__(self, child: subprocess.Popen[bytes], seconds: float):
        self._timer = threading.Timer(seconds, self._expire, args=(child,))
        self._timer.daemon = True
        self._timer.start()

    @staticmethod
    def _expire(child: subprocess.Popen[bytes]) -> None:
        log.error("the suite run %d took too long; killing it", child.pid)
        child.kill()

    def cancel(self) -> None:
        self._timer.cancel()


def measure_suites(
    selections: dict[str, tuple[str, ...]], repeat: int, pycache: Path | None = None
) -> list[SuiteFigures]:
    """Run every selection `repeat` times, interleaved so drift of the machine hits them alike."""
    # One untimed run first: it fills the OS file cache (and `pycache`), and a failing suite
    # stops the benchmark before minutes are spent timing it.
    warm_up = run_suite((), pycache)
    log.info("warm-up run: %.2f s wall (%s)", warm_up.wall_seconds, warm_up.summary)
    runs: dict[str, list[SuiteRun]] = {label: [] for label in selections}
    for round_number in range(1, repeat + 1):
        for label, args in selections.items():
            run = run_suite(args, pycache)
            log.info("round %d/%d, %s: %.2f s wall, server busy %.2f s (%s)", round_number,
                     repeat, label, run.wall_seconds, run.busy_seconds, run.summary)  # fmt: skip
            runs[label].append(run)
    return [SuiteFigures(label, args, tuple(runs[label])) for label, args in selections.items()]


def time_startup(count: int) -> list[float]:
    """Seconds from start_server's call until it returns a server that accepts connections."""
    from reference_server.launcher import start_server

    seconds = []
    for _ in range(count):
        data_dir = Path(tempfile.mkdtemp(prefix="stretch-bench-server-"))
        tokens = {secrets.token_urlsafe(16): "alice", secrets.token_urlsafe(16): "bob"}
        try:
            started = time.perf_counter()
            server = start_server(data_dir, tokens)
            seconds.append(time.perf_counter() - started)
            server.stop()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    log.info("embedded server start-up: %s", ", ".join(f"{s:.3f}" for s in seconds))
    return seconds
