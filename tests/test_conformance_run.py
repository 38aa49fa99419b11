"""Whole runs of the conformance suite: embedded, and against a server started on its own."""

from __future__ import annotations

import re
from pathlib import Path
import subprocess
import sys

import pytest
from pytest_bdd.feature import get_features
from pytest_bdd.scenario import make_python_name

from reference_server.launcher import start_server
from tests.suite_runner import ROOT, child_env, run_suite

TOKENS = {"A": "suite-test-token-alice-4f1c", "B": "suite-test-token-bob-93ad"}


def test_collect_only_lists_every_scenario_of_every_feature():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q"],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    collected = {line.split("[")[0] for line in done.stdout.splitlines() if "::" in line}
    features = get_features([str(ROOT / "features")])
    expected = {
        f"steps/test_scenarios.py::test_{make_python_name(scenario.name)}"
        for feature in features
        for scenario in feature.scenarios.values()
    }
    assert {Path(f.filename).name for f in features} == {
        "access.feature", "delete.feature", "list.feature", "ownership.feature",
        "reorder.feature", "update.feature", "upload.feature", "upload_many.feature",
    }  # fmt: skip
    assert expected - collected == set(), "scenarios not collected"
    count = int(re.search(r"(\d+) tests? collected", done.stdout).group(1))
    assert count >= 60, f"{count} scenarios collected; expected at least 60"


def test_embedded_run_passes_every_scenario(tmp_path):
    run = run_suite(tmp_path)

    assert run.failed == {}, run.output[-4000:]
    assert run.skipped == {}
    assert len(run.passed) >= 60
    assert run.returncode == 0, run.output[-2000:]


def test_run_against_a_separately_started_server_passes(tmp_path):
    tokens = {TOKENS["A"]: "alice", TOKENS["B"]: "bob"}
    with start_server(tmp_path / "data", tokens) as server:
        run = run_suite(
            tmp_path,
            STRETCH_BASE_URL=server.base_url,
            STRETCH_TOKEN=TOKENS["A"],
            STRETCH_TOKEN_B=TOKENS["B"],
        )

    assert run.failed == {}, run.output[-4000:]
    assert run.skipped == {}
    assert len(run.passed) >= 60
    assert run.returncode == 0


def test_without_a_second_token_two_user_scenarios_are_skipped_with_the_reason(tmp_path):
    with start_server(tmp_path / "data", {TOKENS["A"]: "alice"}) as server:
        run = run_suite(
            tmp_path, "-m", "two_users",
            STRETCH_BASE_URL=server.base_url, STRETCH_TOKEN=TOKENS["A"],
        )  # fmt: skip

    assert run.passed == [] and run.failed == {}
    assert len(run.skipped) == 4
    assert set(run.skipped.values()) == {
        "needs a second user: STRETCH_TOKEN_B is not set"
    }, run.skipped


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"STRETCH_TIMEOUT": "soon"}, "STRETCH_TIMEOUT = 'soon' is not a number of seconds"),
        ({"STRETCH_BASE_URL": "ftp://example.invalid"}, "STRETCH_BASE_URL = 'ftp://example.invalid'"),
        ({"STRETCH_BASE_URL": "http://127.0.0.1:9"}, "STRETCH_TOKEN is required"),
    ],
)
def test_a_wrong_setting_stops_the_run_with_one_message_naming_it(tmp_path, settings, message):
    run = run_suite(tmp_path, **settings)

    assert run.returncode == 4, run.output
    assert message in run.output
    assert run.total == 0
