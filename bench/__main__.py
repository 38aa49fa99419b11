"""`python -m bench [--repeat N]`: measure the suite on the embedded server; see bench/."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from bench.measure import ROOT, BenchError, measure_suites, time_startup
from bench.report import (
    Figures,
    load_average,
    render_markdown,
    render_text,
    rows,
    write_section,
)

SELECTIONS = {
    "serial": (),
    "parallel": ("-n", "2"),
    "smoke": ("-m", "smoke"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    load_before = load_average()
    try:
        serial, parallel, smoke = measure_suites(SELECTIONS, args.repeat, args.pycache)
        startup = tuple(time_startup(args.startup_count))
    except BenchError as exc:
        logging.getLogger("bench").error("%s", exc)
        return 1
    figures = Figures(serial, parallel, smoke, startup, load_before, load_average(), args.pycache)
    table = rows(figures, args.repeat)
    sys.stdout.write(render_text(table) + "\n")
    if args.out is not None:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
        write_section(args.out, render_markdown(table, figures, command.strip(), when))
        sys.stdout.write(f"written to {args.out}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time the conformance suite on the embedded reference server: full run "
        "serial and with -n 2, the smoke subset, server start-up, peak RSS, and the ratio of "
        "wall time to the server's own busy time.",
    )
    parser.add_argument(
        "--repeat", type=_positive, default=3, metavar="N", help="runs of each (median; 3)"
    )
    parser.add_argument(
        "--startup-count", type=_positive, default=10, metavar="N",
        help="server start-ups to time (median; 10)",
    )  # fmt: skip
    parser.add_argument(
        "--pycache", type=Path, metavar="DIR",
        help="cache bytecode in DIR for the suite's runs, even under PYTHONDONTWRITEBYTECODE",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks.md",
        help="markdown file to update (docs/benchmarks.md)",
    )  # fmt: skip
    parser.add_argument(
        "--no-write", dest="out", action="store_const", const=None, help="only print the table"
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive count")
    return value


if __name__ == "__main__":
    sys.exit(main())
