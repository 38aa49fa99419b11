"""Reads the JUnit XML a child run of the suite wrote: one outcome per test case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    name: str  # pytest's test name, e.g. test_an_empty_file_is_refused
    outcome: str  # "passed", "failed" (a failure or an error) or "skipped"
    message: str  # the failure's or skip's message attribute
    text: str  # the failure's body: the report pytest wrote


def read_cases(path: Path) -> list[Case]:
    """Every test case of the file; none when the run wrote no file (it stopped before)."""
    if not path.exists():
        return []
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            outcome, detail = "failed", failure
        elif skipped is not None:
            outcome, detail = "skipped", skipped
        else:
            outcome, detail = "passed", None
        message = detail.get("message", "") if detail is not None else ""
        text = (detail.text or "") if detail is not None else ""
        cases.append(Case(case.get("name", ""), outcome, message, text))
    return cases
