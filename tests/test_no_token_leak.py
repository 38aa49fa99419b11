"""No output of a run holds a token.

One whole run of the suite with two known tokens, against the reference server with a fault
that makes several scenarios fail (failures write the most text: messages, tracebacks,
attachments). Then every output is searched for both tokens: Allure results and attachments,
JUnit XML, Cucumber JSON, the HTML report (and the data files it carries base64-encoded),
the history file and the console of both commands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Shared with the report test (pytest puts tests/ on sys.path); only helpers are imported.
from test_allure_report import Run, require, result_files, run_suite_and_report

from harness.html_report import embedded_files

FAULTS = ("wrong_token_accepted_on_list", "title_dropped")
FAILING = {
    "listing Alice's gallery with a wrong token is refused",
    "A PNG uploaded with a title keeps its title",
    "A title with letters from many scripts comes back unchanged",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    require("node", shutil.which("node"))
    require("npm", shutil.which("npm"))
    directory = tmp_path_factory.mktemp("token-leak")
    return run_suite_and_report(directory, FAULTS, ["-q"], expected_status=1)


def outputs(run: Run) -> dict[str, bytes]:
    """Every output of the run, by a name that says where it came from."""
    found = {
        str(path.relative_to(run.directory)): path.read_bytes()
        for path in sorted(run.directory.rglob("*"))
        if path.is_file() and not path.relative_to(run.directory).parts[0].startswith("report-run")
    }
    carried = embedded_files(run.html.read_text(encoding="utf-8"))
    found.update({f"html/index.html carries {name}": data for name, data in carried.items()})
    found.update({f"console of {name}": text.encode() for name, text in run.console.items()})
    return found


def test_the_run_wrote_every_kind_of_output(run: Run):
    names = outputs(run)
    results = [n for n in names if n.startswith("results/")]

    assert {"junit.xml", "cucumber.json", "html/index.html", "history.jsonl"} <= set(names)
    assert any(n.endswith("-result.json") for n in results)
    assert any(n.endswith("-attachment.txt") for n in results), "no exchange was attached"
    assert "results/environment.properties" in results
    assert any(n.startswith("html/index.html carries data/attachments/") for n in names)
    assert "console of suite" in names and "console of html_report" in names


def test_the_run_failed_where_the_faults_are(run: Run):
    failed = {
        r["name"] for r in result_files(run.results) if r["status"] in ("failed", "broken")
    }

    assert FAILING <= failed, f"failed scenarios: {sorted(failed)}; expected at least {FAILING}"


@pytest.mark.parametrize("user", ["A", "B"])
def test_no_output_holds_the_token(run: Run, user: str):
    token = run.tokens[0 if user == "A" else 1].encode()
    leaks = sorted(name for name, data in outputs(run).items() if token in data)

    assert leaks == [], f"user {user}'s token found in: {leaks}"


def test_the_tokens_are_where_the_report_says_they_are_redacted(run: Run):
    texts = [data for name, data in outputs(run).items() if name.endswith("-attachment.txt")]

    assert any(b"Authorization: Bearer <redacted>" in t for t in texts)
    assert any(b'-H "Authorization: Bearer $STRETCH_TOKEN"' in t for t in texts)
    assert any(b'-H "Authorization: Bearer $STRETCH_TOKEN_B"' in t for t in texts)
