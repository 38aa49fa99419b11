"""Allure reporting: exchanges and failures on the step that caused them, labels, run metadata.

A pytest plugin (listed in the root conftest's `pytest_plugins`) on top of allure-pytest-bdd.
That adapter already records each Gherkin step, turns every Gherkin tag into an Allure `tag`
label and adds the `feature` label. This module adds what it does not: the epic, the `Rule:`
as story, severity from the tags @blocker..@trivial (those tags then stop being plain tags),
step parameters limited to values written in the step text (never fixture reprs), every HTTP
exchange as readable text plus a curl command, and the run's environment and failure
categories in the results directory. Known tokens are scrubbed from everything it writes.
"""

from __future__ import annotations

import ast
import hashlib
import http
import json
import logging
import os
import platform
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import allure
import allure_commons
import pytest

from harness.exchange import Exchange, PartSummary

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EPIC = "Stretch gallery storage API"
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")  # most severe first
DEFAULT_SEVERITY = "normal"
BODY_LIMIT = 64 * 1024
REDACTED = "<redacted>"
TOKEN_VARIABLES = {"A": "STRETCH_TOKEN", "B": "STRETCH_TOKEN_B"}
PACKAGES = ("pytest", "pytest-bdd", "allure-pytest-bdd", "httpx", "jsonschema", "pillow")

# Header names whose values are credentials, whatever the server or client calls them.
SENSITIVE_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key)$"
    r"|token|secret|session|password",
    re.IGNORECASE,
)
SENSITIVE_QUERY = re.compile(r"token|secret|password|key|auth|session", re.IGNORECASE)
BEARER_VALUE = re.compile(r"(?i)\b(bearer)\s+(?![$<])[A-Za-z0-9._~+/=-]{6,}")
# Headers curl sets by itself or that would pin a stale value (length, multipart boundary).
CURL_SKIPPED_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "user-agent", "authorization"}
)
CURL_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


def _class_pattern(*names: str) -> str:
    """A regex matching a status message that starts with one of these exception classes.

    It is anchored and ends in a match-all so it works both for Allure 2 (whole-string match)
    and Allure 3 (search).
    """
    return r"^(?:[\w.]*\.)?(?:" + "|".join(names) + r")\b[\s\S]*"


# First match wins, in this order. Names follow harness.errors `category` values.
CATEGORIES: tuple[dict, ...] = (
    {
        "name": "Schema violation",
        "matchedStatuses": ["failed", "broken"],
        "messageRegex": _class_pattern("SchemaViolation"),
    },
    {
        "name": "Wrong status",
        "matchedStatuses": ["failed", "broken"],
        "messageRegex": _class_pattern("WrongStatus"),
    },
    {
        "name": "Gallery state mismatch",
        "matchedStatuses": ["failed", "broken"],
        "messageRegex": _class_pattern("GalleryMismatch"),
    },
    {
        "name": "Transport error or timeout",
        "matchedStatuses": ["failed", "broken"],
        # pytest-timeout fails a scenario with "Failed: Timeout (>300.0s) ...".
        "messageRegex": _class_pattern("TransportFailure", r"\w*Timeout\w*", "Failed: Timeout"),
    },
    {
        "name": "Wrong behaviour",
        "matchedStatuses": ["failed", "broken"],
        "messageRegex": _class_pattern("ConformanceFailure"),
    },
    {"name": "Harness error", "matchedStatuses": ["broken"]},
)


@dataclass
class _State:
    recording: bool = False
    scenario_running: bool = False
    secrets: set[str] = field(default_factory=set)
    target_url: str | None = None
    target_embedded: bool | None = None


_state = _State()


# --- secrets -------------------------------------------------------------------------------


def register_secret(value: str) -> None:
    """Never let this value reach a report (tokens the suite generates or reads itself)."""
    if value and len(value) >= 4:
        _state.secrets.add(value)


def _known_secrets() -> list[str]:
    found = set(_state.secrets)
    for name in ("STRETCH_TOKEN", "STRETCH_TOKEN_B"):
        found.add(os.environ.get(name, ""))
    for pair in os.environ.get("STRETCH_REF_TOKENS", "").split(","):
        found.add(pair.partition("=")[2].strip())
    # Longest first, so a token that contains another is replaced whole.
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def scrub(text: str) -> str:
    """Replace every known token, and any bearer credential, with <redacted>."""
    for secret in _known_secrets():
        text = text.replace(secret, REDACTED)
    return BEARER_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with credential values hidden; an Authorization keeps only its scheme."""
    shown = {}
    for name, value in headers.items():
        if not SENSITIVE_HEADER.search(name):
            shown[name] = scrub(value)
        elif name.lower() in ("authorization", "proxy-authorization") and " " in value.strip():
            shown[name] = f"{value.strip().split()[0]} {REDACTED}"
        else:
            shown[name] = REDACTED
    return shown


def safe_url(url: str) -> str:
    """The URL without user info and with credential-like query values hidden."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(SENSITIVE_QUERY.search(key) for key, _ in pairs):
        hidden = [(k, REDACTED if SENSITIVE_QUERY.search(k) else v) for k, v in pairs]
        query = urlencode(hidden, safe="<>")
    return scrub(urlunsplit((parts.scheme, host, parts.path, query, parts.fragment)))


# --- exchange text -------------------------------------------------------------------------


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _is_json_type(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _is_text_type(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in (
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/javascript",
    )


def _truncated(data: bytes) -> str:
    if len(data) <= BODY_LIMIT:
        return data.decode("utf-8", errors="replace")
    shown = data[:BODY_LIMIT].decode("utf-8", errors="ignore")
    return f"{shown}\n… {len(data) - BODY_LIMIT:,} more bytes not shown ({len(data):,} in all)"


def _looks_like_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def binary_summary(data: bytes, content_type: str | None) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"<{len(data):,} bytes, content-type {content_type or 'not given'}, sha256 {digest}>"


def describe_body(data: bytes, content_type: str | None) -> str:
    """A body as a reader wants it: JSON pretty-printed, text cut at 64 KiB, binary summarised."""
    if not data:
        return "(empty)"
    media_type = _media_type(content_type)
    if _is_json_type(media_type) or not media_type:
        try:
            parsed = json.loads(data)
        except ValueError:
            if _is_json_type(media_type):
                return "(not valid JSON)\n" + _truncated(data)
        else:
            return _truncated(json.dumps(parsed, indent=2, ensure_ascii=False).encode())
    if _is_text_type(media_type) or (not media_type and _looks_like_text(data)):
        return _truncated(data)
    return binary_summary(data, content_type)


def describe_part(part: PartSummary) -> str:
    """One multipart part without its bytes: name, file name, type, size, sha256."""
    if part.sha256 is None and part.filename is None:
        if part.value is not None:
            return f"{part.name}: form field {_truncated(part.value.encode())!r}"
        return f"{part.name}: form field, {part.size:,} bytes"
    return (
        f"{part.name}: filename {part.filename!r}, content-type {part.content_type or 'not given'}"
        f", {part.size:,} bytes, sha256 {part.sha256 or 'not recorded'}"
    )


def _request_body_lines(exchange: Exchange) -> list[str]:
    if exchange.parts:
        lines = [f"Request body: multipart/form-data, {len(exchange.parts)} part(s)"]
        return lines + [f"  {describe_part(part)}" for part in exchange.parts]
    if exchange.json_body is not None:
        body = json.dumps(exchange.json_body, indent=2, ensure_ascii=False)
        return ["Request body (JSON)", _truncated(body.encode())]
    return ["Request body: none"]


def _status_line(exchange: Exchange) -> str:
    if exchange.status is None:
        return f"No answer: {exchange.error or 'no status recorded'}"
    try:
        phrase = " " + http.HTTPStatus(exchange.status).phrase
    except ValueError:
        phrase = ""
    took = "" if exchange.elapsed_seconds is None else f" in {exchange.elapsed_seconds:.3f} s"
    return f"Answer: {exchange.status}{phrase}{took}"


def _header_lines(title: str, headers: dict[str, str]) -> list[str]:
    if not headers:
        return [f"{title}: none"]
    return [title] + [f"  {name}: {value}" for name, value in redact_headers(headers).items()]


def exchange_text(exchange: Exchange) -> str:
    """The whole exchange as readable text, credentials redacted."""
    who = f"user {exchange.user}" if exchange.user else "no token"
    lines = [f"{exchange.method} {safe_url(exchange.url)}  ({who})", _status_line(exchange), ""]
    lines += _header_lines("Request headers", exchange.request_headers) + [""]
    lines += _request_body_lines(exchange)
    if exchange.status is not None:
        content_type = _header(exchange.response_headers, "content-type")
        lines += [""] + _header_lines("Response headers", exchange.response_headers)
        size = len(exchange.response_body)
        lines += ["", f"Response body ({content_type or 'no content-type'}, {size:,} bytes)"]
        lines.append(describe_body(exchange.response_body, content_type))
    return scrub("\n".join(lines))


# --- curl ----------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return value if CURL_PLAIN.match(value) else shlex.quote(value)


def _curl_file_part(part: PartSummary) -> str:
    filename = part.filename or f"{part.name}.bin"
    if re.search(r'[;,"\\]', filename):
        # curl -F splits on ';' and ','; a quoted name keeps them.
        filename = '"' + filename.replace("\\", "\\\\").replace('"', '\\"') + '"'
    spec = f"{part.name}=@{filename}"
    if part.content_type:
        spec += f";type={part.content_type}"
    return f"-F {shlex.quote(spec)}"


def _curl_field(part: PartSummary, values: dict) -> str:
    value = part.value if part.value is not None else values.get(part.name)
    if not isinstance(value, str):
        value = f"<value not recorded: {part.size} bytes>"
    # --form-string sends the value literally; -F would read files for values starting with @ or <.
    return f"--form-string {shlex.quote(f'{part.name}={value}')}"


def _curl_auth(exchange: Exchange) -> str | None:
    if exchange.user:
        variable = TOKEN_VARIABLES.get(exchange.user, f"STRETCH_TOKEN_{exchange.user}")
        return f'-H "Authorization: Bearer ${variable}"'
    sent = _header(exchange.request_headers, "authorization")
    if sent is None:
        return None
    shown = redact_headers({"Authorization": sent})["Authorization"]
    return f"-H {shlex.quote('Authorization: ' + shown)}"


def _curl_body(exchange: Exchange) -> list[str]:
    if exchange.parts:
        # For multipart requests a dict json_body, when given, holds the plain fields' values.
        values = exchange.json_body if isinstance(exchange.json_body, dict) else {}
        return [
            _curl_field(part, values) if part.sha256 is None and part.filename is None
            else _curl_file_part(part)
            for part in exchange.parts
        ]
    if exchange.json_body is not None:
        body = json.dumps(exchange.json_body, ensure_ascii=False)
        return ["-H 'Content-Type: application/json'", f"--data-raw {shlex.quote(body)}"]
    return []


def curl_command(exchange: Exchange) -> str:
    """A curl command that repeats the request, the token left as $STRETCH_TOKEN(_B)."""
    body = _curl_body(exchange)
    skipped = set(CURL_SKIPPED_HEADERS)
    if exchange.parts or exchange.json_body is not None:
        skipped.add("content-type")  # curl writes its own, with the right boundary
    first = "curl"
    if exchange.method != "GET" and not (exchange.method == "POST" and body):
        first += f" -X {exchange.method}"
    args = [f"{first} {_quote(safe_url(exchange.url))}"]
    auth = _curl_auth(exchange)
    if auth:
        args.append(auth)
    for name, value in redact_headers(exchange.request_headers).items():
        if name.lower() not in skipped:
            args.append(f"-H {shlex.quote(f'{name}: {value}')}")
    args += body
    return scrub(" \\\n  ".join(args))


# --- attaching -----------------------------------------------------------------------------


def _can_attach() -> bool:
    # Allure's lifecycle has no step to attach to outside a scenario (e.g. in fixture set-up).
    return _state.recording and _state.scenario_running


def _attachment_title(exchange: Exchange) -> str:
    path = urlsplit(exchange.url).path or "/"
    answer = exchange.status if exchange.status is not None else "no answer"
    return f"{exchange.method} {path} → {answer}"


def attach_exchange(exchange: Exchange) -> None:
    """Attach one request and its answer, and a curl command for it, to the current step."""
    if not _can_attach():
        return
    title = _attachment_title(exchange)
    allure.attach(exchange_text(exchange), name=title, attachment_type=allure.attachment_type.TEXT)
    allure.attach(
        curl_command(exchange), name=f"curl: {title}", attachment_type=allure.attachment_type.TEXT
    )


def _category_name(exc: BaseException) -> str:
    category = getattr(exc, "category", None)
    return category.capitalize() if isinstance(category, str) else "Harness error"


def failure_text(exc: BaseException) -> str:
    """A failure as a QA engineer reads it; schema failures name the schema and both paths."""
    lines = [f"{_category_name(exc)} ({type(exc).__name__})"]
    if hasattr(exc, "schema_path"):
        lines += [
            f"  schema:        {getattr(exc, 'schema', '?')}",
            f"  schema path:   {exc.schema_path}",
            f"  instance path: {getattr(exc, 'instance_path', '?')}",
            f"  problem:       {getattr(exc, 'received', '')}",
            f"  request:       {getattr(exc, 'request', '')}",
        ]
    else:
        lines.append(str(exc))
    return scrub("\n".join(lines))


def attach_failure(exc: BaseException) -> None:
    """Attach a failure's readable explanation to the current step."""
    if not _can_attach():
        return
    allure.attach(
        failure_text(exc),
        name=f"Failure: {_category_name(exc)}",
        attachment_type=allure.attachment_type.TEXT,
    )


# --- labels and results --------------------------------------------------------------------


def _gherkin_tags(feature, scenario) -> set[str]:
    rule_tags = scenario.rule.tags if scenario.rule is not None else set()
    return set(scenario.tags) | set(feature.tags) | set(rule_tags)


@pytest.hookimpl(trylast=True)  # after allure-pytest-bdd has opened the test case
def pytest_bdd_before_scenario(request, feature, scenario) -> None:
    _state.scenario_running = True
    if not _state.recording:
        return
    tags = _gherkin_tags(feature, scenario)
    allure.dynamic.epic(EPIC)
    if scenario.rule is not None:
        allure.dynamic.story(scenario.rule.name)
    severity = next((s for s in SEVERITIES if s in tags), DEFAULT_SEVERITY)
    allure.dynamic.label("severity", severity)
    # The adapter adds tags from pytest marks; a tag a conftest turned into something else
    # (say an xfail) would be lost, so every Gherkin tag is given here and duplicates dropped
    # when the result is written.
    allure.dynamic.tag(*sorted(tags - set(SEVERITIES)))


@pytest.hookimpl
def pytest_bdd_after_scenario(request, feature, scenario) -> None:
    _state.scenario_running = False


def _shown_in(text: str, represented: str) -> bool:
    """Whether a parameter's value (as Allure represented it) is written in the step text."""
    try:
        value = ast.literal_eval(represented)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    return str(value) in text


def _clean_step(step) -> None:
    step.name = scrub(step.name or "")
    # Values parsed from the step text stay; fixtures passed to the step function go.
    step.parameters = [p for p in step.parameters if _shown_in(step.name, p.value or "")]
    _clean_details(step)
    for child in step.steps:
        _clean_step(child)


def _clean_details(item) -> None:
    details = item.statusDetails
    if details is not None:
        details.message = scrub(details.message) if details.message else details.message
        details.trace = scrub(details.trace) if details.trace else details.trace


def _clean_labels(labels: list) -> list:
    severities = [lb.value for lb in labels if lb.name == "severity"]
    severities += [lb.value for lb in labels if lb.name == "tag" and lb.value in SEVERITIES]
    known = [s for s in SEVERITIES if s in severities]
    severity = known[0] if known else DEFAULT_SEVERITY
    kept, seen = [], set()
    for label in labels:
        key = (label.name, label.value)
        dropped = label.name == "severity" or (label.name == "tag" and label.value in SEVERITIES)
        if not dropped and key not in seen:
            seen.add(key)
            kept.append(label)
    kept.append(allure_commons.model2.Label(name="severity", value=severity))
    if ("epic", EPIC) not in seen:
        kept.append(allure_commons.model2.Label(name="epic", value=EPIC))
    return kept


def finish_result(result) -> None:
    """Final touches on a test result before it is written: labels, step parameters, secrets."""
    result.labels = _clean_labels(result.labels)
    for parameter in result.parameters:
        parameter.value = scrub(str(parameter.value))
    _clean_details(result)
    for step in result.steps:
        _clean_step(step)


class _ResultFinisher:
    """Sits in Allure's own plugin manager, ahead of the writer of result files."""

    @allure_commons.hookimpl(tryfirst=True)
    def report_result(self, result) -> None:
        finish_result(result)


_FINISHER_NAME = "stretch-result-finisher"


def pytest_configure(config: pytest.Config) -> None:
    for severity in SEVERITIES:
        config.addinivalue_line("markers", f"{severity}: Allure severity {severity}")
    _state.recording = bool(config.getoption("allure_report_dir", default=None))
    if _state.recording and not allure_commons.plugin_manager.has_plugin(_FINISHER_NAME):
        allure_commons.plugin_manager.register(_ResultFinisher(), name=_FINISHER_NAME)
        config.add_cleanup(lambda: allure_commons.plugin_manager.unregister(name=_FINISHER_NAME))


def pytest_unconfigure(config: pytest.Config) -> None:
    _state.recording = False
    _state.scenario_running = False


# --- run metadata --------------------------------------------------------------------------


def set_target(url: str, embedded: bool) -> None:
    """Tell the report which server this run checks (called once the suite knows)."""
    _state.target_url = url
    _state.target_embedded = embedded


def _suite_version() -> str:
    try:
        data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return "unknown"
    return str(data.get("project", {}).get("version", "unknown"))


def _suite_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip()
    return os.environ.get("GITHUB_SHA", "")[:12] or "unknown"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_environment() -> dict[str, str]:
    """What ran against what: target, suite version and commit, Python and package versions."""
    url = _state.target_url or os.environ.get("STRETCH_BASE_URL", "").strip()
    embedded = _state.target_embedded if _state.target_embedded is not None else not url
    values = {
        "target.url": safe_url(url) if url else "embedded reference server on 127.0.0.1",
        "target.kind": "embedded" if embedded else "remote",
        "suite.version": _suite_version(),
        "suite.commit": _suite_commit(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
    }
    for name in PACKAGES:
        values[f"package.{name}"] = _package_version(name)
    return values


def _properties_line(key: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return f"{key}={escaped}"


def write_run_metadata(directory: Path) -> None:
    """Write environment.properties and categories.json into an Allure results directory."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [_properties_line(k, v) for k, v in run_environment().items()]
    (directory / "environment.properties").write_text(scrub("\n".join(lines)) + "\n", "utf-8")
    categories = json.dumps(list(CATEGORIES), indent=2)
    (directory / "categories.json").write_text(categories + "\n", encoding="utf-8")
    log.debug("wrote run metadata to %s", directory)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    directory = config.getoption("allure_report_dir", default=None)
    # Under xdist only the controller writes; workers have `workerinput`.
    if directory and not hasattr(config, "workerinput"):
        write_run_metadata(Path(directory).absolute())
