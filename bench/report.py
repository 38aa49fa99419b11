"""The benchmark's figures against the targets of issue 6: a table, the machine, the markdown."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.measure import PHASES, ROOT, SuiteFigures

# The targets of issue 6, on a 2-core machine.
SERIAL_MAX_SECONDS = 20.0
PARALLEL_MAX_FRACTION = 0.65  # of the serial wall time
SMOKE_MAX_SECONDS = 5.0
OVERHEAD_MAX_RATIO = 1.5
TEST_RSS_MAX_MB = 200.0
STARTUP_MAX_SECONDS = 1.5

BEGIN = "<!-- bench:begin (written by python -m bench; edit outside these markers) -->"
END = "<!-- bench:end -->"


@dataclass(frozen=True)
class Figures:
    """Everything one benchmark run measured."""

    serial: SuiteFigures
    parallel: SuiteFigures
    smoke: SuiteFigures
    startup_seconds: tuple[float, ...]
    load_before: str = ""  # /proc/loadavg when the benchmark began and ended
    load_after: str = ""
    pycache: Path | None = None  # where bytecode was cached, if the benchmark chose

    @property
    def startup_median(self) -> float:
        return statistics.median(self.startup_seconds)


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    target: str = "—"
    met: bool | None = None  # None: shown for information, no target

    @property
    def verdict(self) -> str:
        return {True: "met", False: "NOT met", None: ""}[self.met]


def megabytes(kilobytes: int | None) -> float | None:
    """ru_maxrss and VmHWM count KiB; the targets speak of MB (10^6 bytes)."""
    return None if kilobytes is None else kilobytes * 1024 / 1e6


def _mb(kilobytes: int | None) -> str:
    value = megabytes(kilobytes)
    return "not readable" if value is None else f"{value:.0f} MB"


def rows(figures: Figures, repeat: int) -> list[Row]:
    """One row per figure, in the order of the issue."""
    serial, parallel, smoke = figures.serial, figures.parallel, figures.smoke
    fraction = parallel.wall_seconds / serial.wall_seconds
    return [
        Row(f"full run, serial (wall, median of {repeat})", f"{serial.wall_seconds:.2f} s",
            f"≤ {SERIAL_MAX_SECONDS:g} s", serial.wall_seconds <= SERIAL_MAX_SECONDS),
        Row("full run, -n 2 (wall)",
            f"{parallel.wall_seconds:.2f} s = {fraction:.2f}× serial",
            f"≤ {PARALLEL_MAX_FRACTION:g}× serial", fraction <= PARALLEL_MAX_FRACTION),
        Row("smoke subset, -m smoke (wall)", f"{smoke.wall_seconds:.2f} s",
            f"≤ {SMOKE_MAX_SECONDS:g} s", smoke.wall_seconds <= SMOKE_MAX_SECONDS),
        Row(f"embedded server ready (median of {len(figures.startup_seconds)})",
            f"{figures.startup_median:.2f} s", f"≤ {STARTUP_MAX_SECONDS:g} s",
            figures.startup_median <= STARTUP_MAX_SECONDS),
        Row("peak RSS, test process (full serial run, 20 MB uploads)",
            _mb(serial.test_rss_kb), f"≤ {TEST_RSS_MAX_MB:g} MB",
            megabytes(serial.test_rss_kb) <= TEST_RSS_MAX_MB),
        Row("peak RSS, largest test process of -n 2", _mb(parallel.test_rss_kb)),
        Row("peak RSS, embedded server (full serial run)", _mb(serial.server_rss_kb)),
        Row("server busy time, full serial run",
            f"{serial.busy_seconds:.2f} s over {serial.requests} requests"),
        Row("overhead ratio, full serial run (wall ÷ busy)", f"{serial.overhead_ratio:.2f}",
            f"≤ {OVERHEAD_MAX_RATIO:g}", serial.overhead_ratio <= OVERHEAD_MAX_RATIO),
        Row("overhead ratio, -n 2 (wall ÷ both servers' busy)", f"{parallel.overhead_ratio:.2f}"),
        Row("overhead ratio, smoke (wall ÷ busy)", f"{smoke.overhead_ratio:.2f}"),
        *_phase_rows(serial),
        Row("CPU time, full serial run: pytest / pytest + server",
            f"{serial.test_cpu_seconds:.2f} s / {serial.tree_cpu_seconds:.2f} s"),
        Row("CPU time, -n 2: pytest processes / all",
            f"{parallel.test_cpu_seconds:.2f} s / {parallel.tree_cpu_seconds:.2f} s"),
    ]  # fmt: skip


def _phase_rows(serial: SuiteFigures) -> list[Row]:
    """The serial run's wall time split at pytest's session start, collection end and finish."""
    phases = serial.phases()
    if phases is None:
        return []
    table = [Row(f"full serial run, {name}", f"{sec:.2f} s") for name, sec in phases.items()]
    ratio = phases[PHASES[2]] / serial.busy_seconds
    table.append(Row("overhead ratio of the scenarios alone (scenarios ÷ busy)", f"{ratio:.2f}"))
    return table


def render_text(table: list[Row]) -> str:
    """The table for a terminal, columns aligned."""
    header = Row("figure", "value", "target")
    lines = [header, *table]
    widths = [max(len(getattr(r, name)) for r in lines) for name in ("figure", "value", "target")]
    out = []
    for row in lines:
        cells = (row.figure, row.value, row.target)
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths))
        out.append(f"{text}  {row.verdict if row is not header else 'verdict'}".rstrip())
    return "\n".join(out)


def render_markdown(table: list[Row], figures: Figures, command: str, when: str) -> str:
    """The generated section of docs/benchmarks.md: machine, command, table, pytest's lines."""
    lines = [
        f"Measured {when} with:",
        "",
        "```bash",
        command,
        "```",
        "",
        "Machine:",
        "",
        *(f"- {line}" for line in machine_lines()),
        f"- load average (1, 5, 15 min) before: {figures.load_before}; "
        f"after: {figures.load_after}",
        f"- bytecode: {_bytecode(figures.pycache)}",
        f"- code: {code_version()}",
        "",
        "| figure | value | target | verdict |",
        "|---|---|---|---|",
        *(f"| {r.figure} | {r.value} | {r.target} | {r.verdict} |" for r in table),
        "",
        "pytest's own summary of the last run of each selection:",
        "",
        *(f"- `{' '.join(('pytest', '-q', *f.args))}`: {f.summary}"
          for f in (figures.serial, figures.parallel, figures.smoke)),  # fmt: skip
    ]
    return "\n".join(lines)


def machine_lines() -> list[str]:
    """nproc, memory, CPU model and Python: what a reader needs to compare figures."""
    return [
        f"CPUs available (nproc): {_cpu_count()}",
        f"CPU model: {_cpu_model()}",
        f"memory (free -h): {_memory()}",
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}",
    ]


def code_version() -> str:
    """The commit measured, and how many tracked files differed from it (others edit the tree)."""
    try:
        head = _git("rev-parse", "--short", "HEAD").strip()
        changed = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return f"commit {head}" + (f", {len(changed)} tracked files changed" if changed else "")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    done.check_returncode()
    return done.stdout


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="ascii").split()[:3])
    except OSError:
        return "unknown"


def _bytecode(pycache: Path | None) -> str:
    if pycache is not None:
        return f"cached in {pycache} (--pycache), warmed by an untimed run"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ("PYTHONDONTWRITEBYTECODE is set: every run compiles, and pytest rewrites, "
                "its modules again")  # fmt: skip
    return "Python's default cache (__pycache__ folders), warmed by an untimed run"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def _memory() -> str:
    """The Mem: line of `free -h` (total, used, free, shared, buff/cache, available)."""
    try:
        done = subprocess.run(["free", "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (free -h not available)"
    header, mem = _free_lines(done.stdout)
    if not mem:
        return "unknown (free -h printed no Mem: line)"
    return ", ".join(f"{name} {value}" for name, value in zip(header, mem))


def _free_lines(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines()
    header = lines[0].split() if lines else []
    for line in lines[1:]:
        if line.startswith("Mem:"):
            return header, line.split()[1:]
    return header, []


def write_section(path: Path, section: str) -> None:
    """Put `section` between the markers of `path`, keeping everything outside them."""
    block = f"{BEGIN}\n{section}\n{END}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Benchmarks\n\n{block}\n", encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end == -1 or end < start:
        text = f"{text.rstrip()}\n\n{block}\n"
    else:
        text = text[:start] + block + text[end + len(END):]
    path.write_text(text, encoding="utf-8")
