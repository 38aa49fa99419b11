"""Root of the conformance suite: the step definitions, grouped by domain concept, and options.

The suite's session (target, preflight, cleanup) is the plugin harness.plugin; it stays idle when
a run selects only the project's own tests under tests/.
"""

import pytest

pytest_plugins = [
    "harness.reporting",
    "harness.plugin",
    "steps.files",
    "steps.uploading",
    "steps.gallery",
    "steps.images",
    "steps.access",
    "steps.responses",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shuffle",
        metavar="SEED",
        type=int,
        default=None,
        help="run the scenarios in a random order drawn from SEED (to show none depends on another)",
    )
