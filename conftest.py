"""Root of the conformance suite: the step definitions, grouped by domain concept.

The suite's session (target, preflight, cleanup) lives in steps/conftest.py, so the project's
own tests under tests/ never start a server or touch a target.
"""

pytest_plugins = [
    "harness.reporting",
    "steps.files",
    "steps.uploading",
    "steps.gallery",
    "steps.images",
    "steps.access",
    "steps.responses",
]
