"""Turn Allure results into one self-contained HTML file, with the history of earlier runs.

    python -m harness.html_report [--results reports/allure-results] [--out reports/html]
                                  [--history reports/history.jsonl]

The generator is the npm package `allure` (Allure 3), which needs Node only. It is installed
once into .cache/allure-node/ at the pinned version. Allure 3 keeps trends in one JSON-lines
file (`historyPath`): each build reads it and appends this run, so keeping that file between
nights (CI caches it) is what makes the trend charts grow.

The Awesome report template loads Google Analytics; the page written here has that tag removed
and carries a Content-Security-Policy that forbids every network request, so opening it
contacts no host.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

ALLURE_VERSION = "3.18.0"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_ROOT / ".cache" / "allure-node"
DEFAULT_RESULTS = PROJECT_ROOT / "reports" / "allure-results"
DEFAULT_OUT = PROJECT_ROOT / "reports" / "html"
DEFAULT_HISTORY = PROJECT_ROOT / "reports" / "history.jsonl"
HISTORY_LIMIT = 60  # nights of trend kept
REPORT_NAME = "Stretch gallery conformance"
INSTALL_SECONDS = 600
GENERATE_SECONDS = 600

# No source may be fetched from anywhere: the report's script, styles and fonts are inline
# (data: URLs and inline blocks), which is all the page is allowed.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' data: blob:; "
    "style-src 'unsafe-inline' data: blob:; img-src data: blob:; font-src data: blob:; "
    "media-src data: blob:; connect-src data: blob:; frame-src data: blob:; "
    "worker-src data: blob:; form-action 'none'"
)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>([\s\S]*?)</script>\s*", re.IGNORECASE)
REMOTE_SOURCE = re.compile(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
ANALYTICS = ("googletagmanager", "gtag(", "dataLayer")


EMBEDDED_FILE = re.compile(r'\bd\("([^"]+)",\s*"([A-Za-z0-9+/=]*)"\)')


class ReportError(Exception):
    """The report could not be built; the message says why and what to do."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ReportError(
            f"`{name}` is not on PATH: the HTML report needs Node.js 20+ with npm "
            f"(e.g. `apt-get install nodejs npm`); the Allure results are kept in place"
        )
    return path


def _child_env() -> dict[str, str]:
    # Node never needs the suite's settings; keeping tokens out of its environment means
    # no generator feature (CI detection, variables) can copy one into the report.
    return {k: v for k, v in os.environ.items() if not k.startswith("STRETCH_")}


def _installed_version(cache: Path) -> str | None:
    manifest = cache / "node_modules" / "allure" / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One installer at a time, when several runs build reports at once."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_generator(cache: Path = CACHE_DIR) -> Path:
    """The Allure 3 command-line script, installed into `cache` at the pinned version if needed."""
    cli = cache / "node_modules" / "allure" / "cli.js"
    if _installed_version(cache) == ALLURE_VERSION and cli.is_file():
        return cli
    npm = _tool("npm")
    with _locked(cache):
        if _installed_version(cache) == ALLURE_VERSION and cli.is_file():
            return cli
        manifest = cache / "package.json"
        if not manifest.exists():
            manifest.write_text('{"name": "allure-node-cache", "private": true}\n', "utf-8")
        log.info("installing allure@%s into %s", ALLURE_VERSION, cache)
        command = [npm, "install", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error"]
        done = subprocess.run(
            [*command, f"allure@{ALLURE_VERSION}"],
            cwd=cache,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
        )
    if done.returncode != 0 or _installed_version(cache) != ALLURE_VERSION:
        raise ReportError(
            f"npm could not install allure@{ALLURE_VERSION} into {cache} "
            f"(exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return cli


def _categories(results: Path) -> list[dict]:
    try:
        found = json.loads((results / "categories.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise ReportError(f"{results / 'categories.json'} is not valid JSON: {exc}") from None
    return found if isinstance(found, list) else []


def report_config(results: Path, output: Path, history: Path) -> dict:
    """The Allure 3 configuration for one single-file report."""
    config = {
        "name": REPORT_NAME,
        "output": str(output),
        "historyPath": str(history),
        "historyLimit": HISTORY_LIMIT,
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": True,
                    "reportName": REPORT_NAME,
                    "reportLanguage": "en",
                    "groupBy": ["feature", "story"],
                }
            }
        },
    }
    # Allure 3 takes categories from its configuration, not from categories.json.
    categories = _categories(results)
    if categories:
        config["categories"] = categories
    return config


def _drop_remote_script(match: re.Match) -> str:
    attributes, body = match.group(1), match.group(2)
    if REMOTE_SOURCE.search(attributes) or any(mark in body for mark in ANALYTICS):
        return ""
    return match.group(0)


def make_offline(html: str) -> str:
    """The page without remote scripts or analytics, under a policy that blocks the network."""
    cleaned = SCRIPT_TAG.sub(_drop_remote_script, html)
    head = re.search(r"<head\b[^>]*>", cleaned, re.IGNORECASE)
    if head is None:
        raise ReportError("the generated report has no <head>; cannot add its network policy")
    policy = f'\n    <meta http-equiv="Content-Security-Policy" content="{CSP}">'
    return cleaned[: head.end()] + policy + cleaned[head.end() :]


def embedded_files(html: str) -> dict[str, bytes]:
    """The data files a single-file report carries (name -> bytes), for checks and audits."""
    return {name: base64.b64decode(data) for name, data in EMBEDDED_FILE.findall(html)}


def _check_results(results: Path) -> None:
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ReportError(
            f"no Allure results in {results}: run the suite with --alluredir {results} first"
        )


def _generate(cli: Path, results: Path, work: Path, history: Path) -> Path:
    output = work / "report"
    config = work / "allurerc.json"
    config.write_text(json.dumps(report_config(results, output, history), indent=2), "utf-8")
    done = subprocess.run(
        [_tool("node"), str(cli), "generate", "--config", str(config), str(results)],
        cwd=work,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=GENERATE_SECONDS,
    )
    page = output / "index.html"
    if done.returncode != 0 or not page.is_file():
        output_tail = (done.stderr or done.stdout).strip()[-2000:]
        raise ReportError(f"allure generate failed (exit {done.returncode}): {output_tail}")
    return page


def build_report(
    results: Path = DEFAULT_RESULTS, out: Path = DEFAULT_OUT, history: Path = DEFAULT_HISTORY
) -> Path:
    """Build `out`/index.html from `results`, reading and extending the `history` file."""
    results, out, history = results.absolute(), out.absolute(), history.absolute()
    _tool("node")
    _check_results(results)
    cli = ensure_generator()
    history.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="allure-build-") as work:
        page = _generate(cli, results, Path(work), history)
        html = make_offline(page.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    target = out / "index.html"
    target.write_text(html, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.html_report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--history", type=Path, default=DEFAULT_HISTORY)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        page = build_report(args.results, args.out, args.history)
    except (ReportError, subprocess.TimeoutExpired) as exc:
        print(f"html_report: {exc}", file=sys.stderr)
        return 2
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
