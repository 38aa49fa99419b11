"""No output of a run holds a token.

One whole run of the suite with two known tokens, against the reference server with a fault
that makes several scenarios fail (failures write the most text: messages, tracebacks,
attachments). Then every output is searched for both tokens: Allure results and attachments,
JUnit XML, Cucumber JSON, the HTML report (and the data files it carries base64-encoded),
the history file and the console of both commands.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

# Shared with the report test (pytest puts tests/ on sys.path); only helpers are imported.
from test_allure_report import (
    PROJECT_ROOT,
    SUITE_SECONDS,
    Run,
    require,
    result_files,
    run_suite_and_report,
)
from tests.suite_runner import child_env

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


# A second run for the suite's own outputs, logs included (GitHub issue 5): the embedded server
# with the two tokens given in the environment, every log record at DEBUG on the console (live)
# and in a log file, -rA (captured logs of passing scenarios too), JUnit, Cucumber JSON, Allure
# results. One scenario fails on purpose: the contract is narrowed to "new uploads land at the
# start" while the reference server puts them at the end. Needs neither node nor a browser.

DEBUG_TOKENS = ("debug-run-alice-Vf3kQ8Lp", "debug-run-bob-Hn6tR2Wm")
NARROWED = ('new_upload_position = "either"', 'new_upload_position = "start"')
FAILS_BY_CONTRACT = (
    "test_a_new_upload_lands_at_the_start_or_the_end_of_the_gallery_as_the_contract_allows"
)


@dataclass
class DebugRun:
    directory: Path
    returncode: int
    console: str


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory) -> DebugRun:
    directory = tmp_path_factory.mktemp("debug-run")
    contract = directory / "contract.toml"
    text = (PROJECT_ROOT / "contract.toml").read_text(encoding="utf-8")
    assert NARROWED[0] in text, f"contract.toml no longer holds {NARROWED[0]!r}"
    contract.write_text(text.replace(*NARROWED), encoding="utf-8")
    command = [
        sys.executable, "-m", "pytest", "-m", "not slow", "-rA",
        "--log-level=DEBUG", "-o", "log_cli=true", "--log-cli-level=DEBUG",
        f"--log-file={directory / 'suite.log'}", "--log-file-level=DEBUG",
        f"--alluredir={directory / 'results'}",
        f"--junitxml={directory / 'junit.xml'}",
        f"--cucumberjson={directory / 'cucumber.json'}",
    ]  # fmt: skip
    env = child_env(
        STRETCH_TOKEN=DEBUG_TOKENS[0],
        STRETCH_TOKEN_B=DEBUG_TOKENS[1],
        STRETCH_CONTRACT=str(contract),
    )
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=SUITE_SECONDS
    )
    return DebugRun(directory, done.returncode, done.stdout + done.stderr)


def debug_outputs(run: DebugRun) -> dict[str, bytes]:
    found = {
        str(path.relative_to(run.directory)): path.read_bytes()
        for path in sorted(run.directory.rglob("*"))
        if path.is_file() and path.name != "contract.toml"
    }
    found["console"] = run.console.encode()
    return found


def test_the_debug_run_failed_only_where_the_contract_was_narrowed(debug_run: DebugRun):
    cases = ET.parse(debug_run.directory / "junit.xml").getroot().iter("testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]

    assert failed == [FAILS_BY_CONTRACT], debug_run.console[-3000:]
    assert debug_run.returncode == 1


def test_the_debug_run_wrote_logs_and_every_report(debug_run: DebugRun):
    names = debug_outputs(debug_run)
    log_file = names["suite.log"].decode()

    assert {"junit.xml", "cucumber.json", "suite.log", "console"} <= set(names)
    assert any(n.startswith("results/") and n.endswith("-attachment.txt") for n in names)
    for where, text in (("console", debug_run.console), ("suite.log", log_file)):
        assert "DEBUG" in text and "HTTP Request: PUT" in text, f"no DEBUG request log in {where}"
    assert "Captured log call" in debug_run.console, "-rA did not show captured logs"


@pytest.mark.parametrize("user", ["A", "B"])
def test_no_output_of_the_debug_run_holds_the_token(debug_run: DebugRun, user: str):
    token = DEBUG_TOKENS[0 if user == "A" else 1].encode()
    leaks = sorted(name for name, data in debug_outputs(debug_run).items() if token in data)

    assert leaks == [], f"user {user}'s token found in: {leaks}"
