"""The kill matrix: every fault of the reference server is caught by a scenario naming its rule.

The whole matrix runs once for this module, through the command's own main() (reports written to
a temporary folder instead of reports/). Then: a normal start of the reference server has no
fault on, and an unknown fault name stops it.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness import images
from reference_server.faults import FAULTS
from tools import kill_matrix
from tools.kill_matrix import EXPECTED_CATCHERS, PREFLIGHT, Matrix, SuiteRun

ROOT = Path(__file__).resolve().parent.parent
# The CI budget for the whole matrix, on 2 cores.
CI_BUDGET_SECONDS = 600
TIMEOUT_MESSAGE = "no answer within 3 s (STRETCH_TIMEOUT)"
UPDATE_SCENARIOS = {
    "Updating only the title keeps the file",
    "Updating only the file replaces what the image serves",
    "Updating title and file together changes both",
    "An update with a file that is not an image is refused and changes nothing",
    "An update of an image that does not exist is refused",
    "An update with a malformed image ID gives a validation error",
    "Alice cannot update Bob's image",
}


@dataclass
class MatrixRun:
    exit_code: int
    printed: str
    seconds: float
    markdown: str
    data: dict

    def fault(self, name: str) -> dict:
        return next(row for row in self.data["faults"] if row["fault"] == name)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> MatrixRun:
    out = tmp_path_factory.mktemp("kill-matrix")
    printed = io.StringIO()
    started = time.monotonic()
    with redirect_stdout(printed):
        exit_code = kill_matrix.main(["--out", str(out)])
    seconds = time.monotonic() - started
    markdown = (out / "kill-matrix.md").read_text(encoding="utf-8")
    data = json.loads((out / "kill-matrix.json").read_text(encoding="utf-8"))
    return MatrixRun(exit_code, printed.getvalue(), seconds, markdown, data)


def scenario_count() -> int:
    """How many tests the suite collects: one per scenario, one per example of an outline."""
    return len(kill_matrix.scenario_titles())


# Without running the matrix.


def test_every_fault_has_expected_catchers_and_every_catcher_names_a_scenario():
    titles = set(kill_matrix.scenario_titles().values()) | {PREFLIGHT}
    unmatched = {
        fault: prefix
        for fault, prefixes in EXPECTED_CATCHERS.items()
        for prefix in prefixes
        if not any(title.startswith(prefix) for title in titles)
    }

    assert sorted(EXPECTED_CATCHERS) == sorted(FAULTS), "EXPECTED_CATCHERS keys vs the catalogue"
    assert unmatched == {}, f"expected catchers that match no scenario title: {unmatched}"


def test_outline_titles_are_rendered_with_their_example():
    titles = kill_matrix.scenario_titles()

    assert titles["test_a_type_file_of_exactly_the_size_limit_is_accepted[JPEG]"] == (
        "A JPEG file of exactly the size limit is accepted"
    )
    assert titles["test_action_with_a_wrong_token_is_refused[listing Alice's gallery]"] == (
        "listing Alice's gallery with a wrong token is refused"
    )
    assert titles["test_an_empty_gallery_is_listed_as_an_empty_list"] == (
        "An empty gallery is listed as an empty list"
    )


def test_a_survivor_or_a_kill_by_another_scenario_fails_the_matrix():
    clean = SuiteRun(0, 2.0, passed=["A PNG uploaded with a title keeps its title"])
    by_other = SuiteRun(1, 2.0, failed={"The image's thumb is an image": "wrong"})
    survived = kill_matrix.judge("title_dropped", clean)
    killed_elsewhere = kill_matrix.judge("title_dropped", by_other)
    matrix = Matrix(clean, [survived, killed_elsewhere], 4.0)

    assert (survived.verdict, survived.caught_by) == ("survived", [])
    assert (killed_elsewhere.verdict, killed_elsewhere.expected_catcher_found) == ("killed", False)
    assert matrix.ok is False
    assert kill_matrix.summary_lines(matrix) == [
        "killed 1 of 2 faults in 4.0 s",
        "- `title_dropped` survived: a scenario is missing",
        "- `title_dropped` killed, but not by a scenario that names the rule",
    ]


# The whole matrix.


def test_the_baseline_passes_every_scenario(matrix: MatrixRun):
    baseline = matrix.data["baseline"]

    assert baseline["failed"] == [], f"scenarios failing with no fault on: {baseline['failed']}"
    assert baseline["preflight"] is None
    assert baseline["scenarios_passed"] == scenario_count()
    assert baseline["passed"] is True


def test_every_fault_of_the_catalogue_is_tried(matrix: MatrixRun):
    assert [row["fault"] for row in matrix.data["faults"]] == list(FAULTS)
    assert [row["description"] for row in matrix.data["faults"]] == list(FAULTS.values())


def test_every_fault_is_killed_by_a_scenario_that_names_its_rule(matrix: MatrixRun):
    not_as_intended = {
        row["fault"]: f"{row['verdict']}, caught by {row['caught_by'][:4]}"
        for row in matrix.data["faults"]
        if row["verdict"] != "killed" or not row["expected_catcher_found"]
    }

    assert not_as_intended == {}, (
        "faults not killed as intended (a survivor means a missing scenario); expected "
        f"catchers are tools.kill_matrix.EXPECTED_CATCHERS: {not_as_intended}"
    )
    assert matrix.data["killed"] == len(FAULTS)
    assert matrix.data["killed_as_intended"] == len(FAULTS)


def test_the_command_prints_the_table_and_the_summary_and_exits_0(matrix: MatrixRun):
    total = len(FAULTS)

    assert matrix.exit_code == 0, matrix.printed[-3000:]
    assert matrix.printed == matrix.markdown
    assert re.search(rf"^killed {total} of {total} faults in [\d.]+ s$", matrix.printed, re.M)


def test_hang_on_list_is_killed_by_the_preflight_with_a_timeout(matrix: MatrixRun):
    row = matrix.fault("hang_on_list")

    assert row["caught_by"] == [PREFLIGHT]
    assert row["evidence"].startswith("stretch preflight failed: the target at http://127.0.0.1:")
    assert row["evidence"].endswith(f"did not answer: {TIMEOUT_MESSAGE}"), row["evidence"]


def test_hang_on_update_fails_every_update_with_a_timeout_and_the_run_goes_on(
    matrix: MatrixRun,
):
    row = matrix.fault("hang_on_update")

    assert set(row["caught_by"]) == UPDATE_SCENARIOS
    assert TIMEOUT_MESSAGE in row["evidence"], row["evidence"]
    assert row["passed"] == scenario_count() - len(UPDATE_SCENARIOS)


def test_the_markdown_table_and_the_json_agree(matrix: MatrixRun):
    rows = _table_rows(matrix.markdown)
    by_fault = {row["fault"]: row for row in matrix.data["faults"]}

    assert [cells[0] for cells in rows] == [f"`{name}`" for name in by_fault]
    for fault, description, verdict, caught, intended, seconds in rows:
        row = by_fault[fault.strip("`")]
        assert (description, verdict) == (row["description"], row["verdict"])
        assert intended == ("yes" if row["expected_catcher_found"] else "no")
        assert float(seconds) == round(row["seconds"], 1)
        shown, hidden = _caught_by_cell(caught, row["verdict"])
        assert shown == row["caught_by"][: len(shown)], fault
        assert len(shown) + hidden == len(row["caught_by"]), fault


def _caught_by_cell(cell: str, verdict: str) -> tuple[list[str], int]:
    """The titles a caught-by cell shows, and how many more it says there are."""
    if verdict == "hung":
        return [], 0
    shown, _, more = cell.partition(" (+")
    return [title for title in shown.split("; ") if title], int(more.removesuffix(" more)") or 0)


def _table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def test_the_matrix_finishes_within_the_ci_budget(matrix: MatrixRun):
    assert matrix.seconds < CI_BUDGET_SECONDS, (
        f"the whole matrix took {matrix.seconds:.0f} s; the CI budget is {CI_BUDGET_SECONDS} s"
    )
    assert matrix.data["seconds"] < CI_BUDGET_SECONDS


# No fault without asking for it.


def test_a_normal_start_has_no_fault_on(tmp_path: Path):
    # A plain start: no --fault, no tokens given (it makes and prints two); TMPDIR keeps its
    # default data directory inside tmp_path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRETCH_")}
    env.update(TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "reference_server", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        tokens_line, listening_line = server.stdout.readline(), server.stdout.readline()
        assert tokens_line.startswith("tokens: alice="), tokens_line + server.stderr.read()
        assert listening_line.startswith("reference server listening on http://127.0.0.1:")
        tokens = dict(token.split("=", 1) for token in tokens_line.split()[1:])
        _check_correct_answers(listening_line.split()[-1] + "/api/v1", tokens["alice"])
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
        server.stderr.close()


def _check_correct_answers(base: str, token: str) -> None:
    title, name = "Zürich – 東京 ✓", 'Grandma\'s "best" café.png'
    png, gif = images.png_bytes(seed=7), images.gif_bytes(seed=7)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, trust_env=False, timeout=10) as client:
        stored = client.post(
            "/storage/image", files={"file": (name, png, "image/png")}, data={"title": title}
        )
        refused = client.post("/storage/image", files={"file": ("anim.gif", gif, "image/gif")})
        listed = client.get("/storage/images")

    assert stored.status_code == 200, stored.text
    record = stored.json()
    received = (record["title"], record["originFilename"], record["filesize"])
    assert received == (title, name, len(png)), "title, file name and size as sent"
    assert record["contentType"] == "image/png"
    assert re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", record["id"]), record["id"]
    assert refused.status_code == 415, f"a GIF upload answered {refused.status_code}, not 415"
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [record["id"]]


def test_an_unknown_fault_name_stops_the_start(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRETCH_")}
    env.update(TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "reference_server", "--port", "0", "--fault", "no_such_fault"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown fault 'no_such_fault' (python -m reference_server --list-faults)" in (
        done.stderr
    )
    assert "listening" not in done.stdout
