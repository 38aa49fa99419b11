"""`python -m tools.kill_matrix`: the conformance suite against each fault of the reference server.

A fault (reference_server/faults.py) is one way a server can break one rule. The matrix first
runs the suite against a correct server, which must pass, then once against a fresh server per
fault, and reads the JUnit XML of each run for the scenarios that failed. A fault is killed as
intended only when a scenario whose title names the broken rule (EXPECTED_CATCHERS) is among
them; a fault that survives means a scenario is missing, not that the fault is wrong.

    python -m tools.kill_matrix [--jobs N] [--fault NAME ...] [--timeout S] [--out DIR]

Writes DIR/kill-matrix.md and DIR/kill-matrix.json (DIR: reports/; kill-matrix-partial.* when
only some faults are tried), prints the table and
`killed N of M faults`; exits 1 when the baseline fails or any fault is not killed as intended.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pytest_bdd.feature import get_features
from pytest_bdd.scenario import make_python_name

from harness.config import child_environ
from reference_server.faults import FAULTS
from reference_server.launcher import start_server
from tools.junit import read_cases

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"
REPORTS = ROOT / "reports"
# Each run waits this long for an answer, so a hanging endpoint fails its scenarios quickly.
ANSWER_SECONDS = 3
# A whole run takes a few seconds; one that is still going after this is reported as hung.
RUN_SECONDS = 180.0
# The catcher of a fault that leaves no scenario able to start: the suite's preflight.
PREFLIGHT = "preflight"
PREFLIGHT_MARK = "stretch preflight failed:"
KILLED, SURVIVED, HUNG = "killed", "survived", "hung"
SHOWN_CATCHERS = 3

_UPDATES = (
    "Updating only the title keeps the file",
    "Updating only the file replaces what the image serves",
    "Updating title and file together changes both",
    "An update with a file that is not an image is refused and changes nothing",
    "An update of an image that does not exist is refused",
    "An update with a malformed image ID gives a validation error",
    "Alice cannot update Bob's image",
)
_VALIDATION_ERRORS = (
    "An upload without a file gives a validation error",
    "A batch with no files gives a validation error",
    "An order holding a malformed ID gives a validation error",
    "An update with a malformed image ID gives a validation error",
    "Deleting with a malformed image ID gives a validation error",
)

# For every fault, the scenario titles (or title prefixes) whose name says why the fault is
# wrong; outline titles as rendered with their example. At least one must fail.
EXPECTED_CATCHERS: dict[str, tuple[str, ...]] = {
    "size_limit_one_byte_short": (
        "A PNG file of exactly the size limit is accepted",
        "A JPEG file of exactly the size limit is accepted",
    ),
    "size_limit_one_byte_over": (
        "A PNG file one byte over the size limit is refused",
        "A JPEG file one byte over the size limit is refused",
    ),
    "type_by_filename": ("GIF bytes in a file named like a PNG are refused",),
    "type_by_declared_content_type": ("GIF bytes declared as a PNG part are refused",),
    "accepts_gif": ("A GIF file is refused",),
    "accept_empty_file": ("An empty file is refused",),
    "accept_truncated_image": (
        "A truncated PNG file is refused",
        "A truncated JPEG file is refused",
        "A PNG signature followed by junk file is refused",
    ),
    "order_accepts_partial": ("An order that misses one image is refused",),
    "order_accepts_duplicates": (
        "An order that names every image and one of them twice is refused",
    ),
    "order_accepts_unknown_id": (
        "An order that names an image that does not exist is refused",
        "Alice cannot put Bob's image into her gallery order",
    ),
    "order_not_kept": (
        "A complete order is kept",
        "The gallery is listed in the order Alice chose",
    ),
    "order_wrong_echo": ("A complete order is accepted and echoed",),
    "list_ignores_order": (
        "The gallery is listed in the order Alice chose",
        "A complete order is kept",
    ),
    "delete_keeps_image": ("A deleted image is no longer listed",),
    "delete_wrong_body": ("Deleting an image answers with a StretchResponse",),
    "update_foreign_image": ("Alice cannot update Bob's image",),
    "delete_foreign_image": ("Alice cannot delete Bob's image",),
    "list_shows_foreign_images": ("Alice's gallery never lists Bob's images",),
    "no_token_check_on_delete": (
        "deleting Alice's image without a token is refused",
        "deleting Alice's image with a wrong token is refused",
    ),
    "wrong_token_accepted_on_list": ("listing Alice's gallery with a wrong token is refused",),
    "id_not_uuid": ("An uploaded image is identified by a UUID",),
    "filesize_in_kilobytes": (
        "A PNG upload reports its real size and content type",
        "A JPEG upload reports its real size and content type",
    ),
    "wrong_content_type": ("A JPEG upload reports its real size and content type",),
    "missing_origin_filename": (
        "A file name with quotes and accented letters comes back unchanged",
    ),
    "url_serves_other_bytes": ("The image's url serves exactly the bytes that were uploaded",),
    "thumb_not_image": ("The image's thumb is an image",),
    "update_keeps_old_file": ("Updating only the file replaces what the image serves",),
    "title_dropped": ("A PNG uploaded with a title keeps its title",),
    "title_mangled": ("A title with letters from many scripts comes back unchanged",),
    "filename_mangled": ("A file name with quotes and accented letters comes back unchanged",),
    "crash_on_malformed_id": (
        "Deleting with a malformed image ID gives a validation error",
        "An update with a malformed image ID gives a validation error",
    ),
    "batch_refused_but_partly_stored": ("A refused batch stores none of its files",),
    "batch_returns_fewer": ("Two valid files uploaded together are both stored",),
    "empty_gallery_null": ("An empty gallery is listed as an empty list",),
    "validation_error_wrong_shape": _VALIDATION_ERRORS,
    "new_upload_in_middle": (
        "A new upload lands at the start or the end of the gallery, as the contract allows",
    ),
    "hang_on_list": (PREFLIGHT,),
    "hang_on_update": _UPDATES,
}


@dataclass
class SuiteRun:
    """What one child run of the suite reported."""

    returncode: int
    seconds: float
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # scenario title -> failure message
    preflight: str | None = None  # the preflight's message, when it stopped the run
    hung: bool = False
    output: str = ""

    @property
    def clean(self) -> bool:
        """Every scenario ran and passed, and the run said so."""
        return self.returncode == 0 and not self.failed and bool(self.passed) and not self.hung


@dataclass
class FaultResult:
    fault: str
    description: str
    verdict: str  # KILLED, SURVIVED or HUNG
    caught_by: list[str]
    expected_catcher_found: bool
    seconds: float
    evidence: str = ""  # the first lines of the failure that killed it as intended
    passed: int = 0

    @property
    def as_intended(self) -> bool:
        return self.verdict == KILLED and self.expected_catcher_found


@dataclass
class Matrix:
    baseline: SuiteRun
    results: list[FaultResult]
    seconds: float

    @property
    def killed(self) -> int:
        return sum(result.verdict == KILLED for result in self.results)

    @property
    def ok(self) -> bool:
        return self.baseline.clean and all(result.as_intended for result in self.results)


def scenario_titles(features_dir: Path = FEATURES) -> dict[str, str]:
    """JUnit test name -> scenario title; outline titles rendered with their example."""
    titles: dict[str, str] = {}
    taken: set[str] = set()
    for feature in get_features([str(features_dir)]):
        for template in feature.scenarios.values():
            name = _unique_test_name(make_python_name(template.name), taken)
            examples = [context for table in template.examples for context in table.as_contexts()]
            if not examples:
                titles[name] = template.name
            for context in examples:
                param_id = "-".join(context.values())
                titles[f"{name}[{_ascii_escaped(param_id)}]"] = template.render(context).name
    return titles


def _unique_test_name(python_name: str, taken: set[str]) -> str:
    """The name pytest-bdd's scenarios() gives: a repeated title gets _1, _2, ..."""
    name, index = f"test_{python_name}", 0
    while name in taken:
        index += 1
        name = f"test_{python_name}_{index}"
    taken.add(name)
    return name


def _ascii_escaped(text: str) -> str:
    # As pytest writes a parametrize id (unless an ini option forfeits that).
    return text.encode("unicode_escape").decode("ascii")


def run_suite_against(
    faults: Sequence[str], titles: dict[str, str], run_seconds: float = RUN_SECONDS
) -> SuiteRun:
    """Start a fresh reference server with these faults and run the whole suite against it."""
    tokens = {"A": secrets.token_urlsafe(18), "B": secrets.token_urlsafe(18)}
    with tempfile.TemporaryDirectory(prefix="stretch-matrix-") as scratch:
        work = Path(scratch)
        started = time.monotonic()
        users = {tokens["A"]: "alice", tokens["B"]: "bob"}
        with start_server(work / "data", users, faults=faults) as server:
            run = _run_pytest(work, server.base_url, tokens, run_seconds)
        run.seconds = round(time.monotonic() - started, 2)
        _read_junit(work / "junit.xml", titles, run)
        _forget_target(server.base_url)
    return run


def _run_pytest(work: Path, base_url: str, tokens: dict[str, str], run_seconds: float) -> SuiteRun:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
               f"--junitxml={work / 'junit.xml'}"]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=_suite_env(base_url, tokens),
            capture_output=True,
            text=True,
            timeout=run_seconds,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as expired:
        return SuiteRun(-1, 0.0, hung=True, output=_text(expired.stdout) + _text(expired.stderr))
    output = done.stdout + done.stderr
    return SuiteRun(done.returncode, 0.0, preflight=_preflight_message(output), output=output)


def _suite_env(base_url: str, tokens: dict[str, str]) -> dict[str, str]:
    """Only this run's settings: none from the caller's environment, none from a .env file."""
    return child_environ(
        STRETCH_BASE_URL=base_url,
        STRETCH_TOKEN=tokens["A"],
        STRETCH_TOKEN_B=tokens["B"],
        STRETCH_TIMEOUT=str(ANSWER_SECONDS),
        PYTHONDONTWRITEBYTECODE="1",
    )


def _text(captured: str | bytes | None) -> str:
    if isinstance(captured, bytes):
        return captured.decode("utf-8", "replace")
    return captured or ""


def _preflight_message(output: str) -> str | None:
    for line in output.splitlines():
        if PREFLIGHT_MARK in line:
            return line[line.index(PREFLIGHT_MARK) :].strip()
    return None


def _read_junit(path: Path, titles: dict[str, str], run: SuiteRun) -> None:
    for case in read_cases(path):
        title = titles.get(case.name, case.name)
        if case.outcome == "failed":
            run.failed[title] = case.message or case.text
        elif case.outcome == "passed":
            run.passed.append(title)


def _forget_target(base_url: str) -> None:
    """Drop the suite's ledger of this throwaway server, so none piles up in .cache/state."""
    from harness.session import ledger_path

    ledger_path(base_url).unlink(missing_ok=True)


def judge(fault: str, run: SuiteRun) -> FaultResult:
    """The verdict on one fault from the run of the suite against it."""
    if run.hung:
        caught_by, verdict = [], HUNG
    elif run.preflight is not None:
        caught_by, verdict = [PREFLIGHT], KILLED
    else:
        caught_by = sorted(run.failed, key=lambda title: not _is_expected(fault, title))
        if not caught_by and run.returncode != 0:
            # No scenario failed, yet the run did (its end-of-run check, say): name how.
            last = run.output.strip().splitlines()[-1:] or [""]
            caught_by = [f"the run itself (exit code {run.returncode}): {last[0][:200]}"]
        verdict = KILLED if caught_by else SURVIVED
    intended = [title for title in caught_by if _is_expected(fault, title)]
    return FaultResult(
        fault=fault,
        description=FAULTS.get(fault, ""),
        verdict=verdict,
        caught_by=caught_by,
        expected_catcher_found=bool(intended),
        seconds=run.seconds,
        evidence=_evidence(run, intended[0]) if intended else "",
        passed=len(run.passed),
    )


def _is_expected(fault: str, title: str) -> bool:
    return any(title.startswith(prefix) for prefix in EXPECTED_CATCHERS.get(fault, ()))


def _evidence(run: SuiteRun, title: str) -> str:
    text = run.preflight if title == PREFLIGHT else run.failed.get(title, "")
    return " / ".join(line.strip() for line in (text or "").splitlines()[:3])[:400]


def run_matrix(
    faults: Iterable[str] | None = None, jobs: int = 2, run_seconds: float = RUN_SECONDS
) -> Matrix:
    """The baseline run, then (only if it passed) one run per fault, `jobs` at a time."""
    started = time.monotonic()
    titles = scenario_titles()
    baseline = run_suite_against([], titles, run_seconds)
    if not baseline.clean:
        return Matrix(baseline, [], round(time.monotonic() - started, 2))
    chosen = list(FAULTS if faults is None else faults)

    def one(fault: str) -> FaultResult:
        result = judge(fault, run_suite_against([fault], titles, run_seconds))
        log.info("%s: %s in %.1f s", fault, result.verdict, result.seconds)
        return result

    # A hanging fault waits out ANSWER_SECONDS per call: started first, it never runs alone last.
    slow_first = sorted(chosen, key=lambda fault: not fault.startswith("hang_"))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        finished = dict(zip(slow_first, pool.map(one, slow_first)))
    results = [finished[fault] for fault in chosen]
    return Matrix(baseline, results, round(time.monotonic() - started, 2))


def intended_label(result: FaultResult) -> str:
    return "yes" if result.expected_catcher_found else "no"


def caught_by_cell(result: FaultResult) -> str:
    """The first few catchers (intended ones first), then how many more."""
    if result.verdict == HUNG:
        return "nothing: the run did not end"
    shown = [title.replace("|", "\\|") for title in result.caught_by[:SHOWN_CATCHERS]]
    more = len(result.caught_by) - len(shown)
    return "; ".join(shown) + (f" (+{more} more)" if more else "")


def render_markdown(matrix: Matrix) -> str:
    lines = ["# Kill matrix", "", _baseline_line(matrix.baseline), ""]
    if not matrix.results:
        return "\n".join(lines) + "\n"
    lines += [
        "| fault | description | verdict | caught by | intended catcher | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in matrix.results:
        description = r.description.replace("|", "\\|")
        lines.append(
            f"| `{r.fault}` | {description} | {r.verdict} | {caught_by_cell(r)} "
            f"| {intended_label(r)} | {r.seconds:.1f} |"
        )
    lines += ["", *summary_lines(matrix)]
    return "\n".join(lines) + "\n"


def _baseline_line(baseline: SuiteRun) -> str:
    if baseline.clean:
        return (
            f"Baseline (no fault): {len(baseline.passed)} scenarios passed "
            f"in {baseline.seconds:.1f} s."
        )
    why = baseline.preflight or ("the run did not end" if baseline.hung else "")
    failed = "; ".join(sorted(baseline.failed)) or why or f"exit code {baseline.returncode}"
    return f"Baseline (no fault) FAILED, so no fault was tried: {failed}"


def summary_lines(matrix: Matrix) -> list[str]:
    """`killed N of M faults`, then one line per fault that was not killed as intended."""
    lines = [f"killed {matrix.killed} of {len(matrix.results)} faults "
             f"in {matrix.seconds:.1f} s"]  # fmt: skip
    for r in matrix.results:
        if r.verdict == SURVIVED:
            lines.append(f"- `{r.fault}` survived: a scenario is missing")
        elif r.verdict == HUNG:
            lines.append(f"- `{r.fault}`: the suite did not end within the run's time bound")
        elif not r.expected_catcher_found:
            lines.append(f"- `{r.fault}` killed, but not by a scenario that names the rule")
    return lines


def matrix_json(matrix: Matrix) -> dict:
    baseline = matrix.baseline
    return {
        "baseline": {
            "passed": baseline.clean,
            "scenarios_passed": len(baseline.passed),
            "failed": sorted(baseline.failed),
            "preflight": baseline.preflight,
            "seconds": baseline.seconds,
        },
        "faults": [asdict(result) for result in matrix.results],
        "killed": matrix.killed,
        "killed_as_intended": sum(result.as_intended for result in matrix.results),
        "total": len(matrix.results),
        "seconds": matrix.seconds,
    }


def write_reports(matrix: Matrix, directory: Path = REPORTS) -> tuple[Path, Path]:
    """Write kill-matrix.md and kill-matrix.json; return their paths.

    A run of only some faults writes kill-matrix-partial.* instead, so it never replaces the
    table of the whole catalogue.
    """
    directory.mkdir(parents=True, exist_ok=True)
    partial = {result.fault for result in matrix.results} != set(FAULTS)
    stem = "kill-matrix-partial" if partial else "kill-matrix"
    markdown = directory / f"{stem}.md"
    data = directory / f"{stem}.json"
    markdown.write_text(render_markdown(matrix), encoding="utf-8")
    text = json.dumps(matrix_json(matrix), indent=2, ensure_ascii=False)
    data.write_text(text + "\n", encoding="utf-8")
    return markdown, data


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.kill_matrix",
        description="Run the conformance suite against the reference server once per fault.",
    )
    parser.add_argument("--jobs", type=int, default=2, help="faults tried at a time (2)")
    parser.add_argument(
        "--fault", action="append", choices=sorted(FAULTS), metavar="NAME",
        help="try only this fault (repeatable; default: the whole catalogue)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=RUN_SECONDS, metavar="S",
        help=f"seconds one run of the suite may take before it counts as hung ({RUN_SECONDS:g})",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPORTS, help="where the reports go")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    matrix = run_matrix(args.fault, args.jobs, args.timeout)
    markdown, _ = write_reports(matrix, args.out)
    sys.stdout.write(markdown.read_text(encoding="utf-8"))
    if not matrix.baseline.clean:
        sys.stdout.write("the suite fails against the correct reference server; matrix stopped\n")
        sys.stdout.write(matrix.baseline.output[-3000:] + "\n")
    return 0 if matrix.ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
