"""Runs the conformance suite in a child pytest process and reads what it reported."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.config import child_environ
from tools.junit import read_cases

ROOT = Path(__file__).resolve().parent.parent
@dataclass
class SuiteRun:
    returncode: int
    output: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # test id -> failure message
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.skipped)


def child_env(**settings: str) -> dict[str, str]:
    return child_environ(PYTHONDONTWRITEBYTECODE="1", **settings)


def run_suite(
    tmp_path: Path, *args: str, timeout: float = 600, **settings: str
) -> SuiteRun:
    """Run the suite (plain `pytest` at the root) with these settings; JUnit XML is parsed."""
    junit = tmp_path / "junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
               f"--junitxml={junit}", *args]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    run = SuiteRun(done.returncode, done.stdout + done.stderr)
    _read_junit(junit, run)
    return run


def _read_junit(path: Path, run: SuiteRun) -> None:
    for case in read_cases(path):
        if case.outcome == "failed":
            run.failed[case.name] = case.message + "\n" + case.text
        elif case.outcome == "skipped":
            run.skipped[case.name] = case.message
        else:
            run.passed.append(case.name)
