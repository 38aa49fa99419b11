"""The Allure reporting plugin and the HTML report builder, part by part.

Exchanges are built by hand (no server needed); the plugin test runs a real pytest-bdd session
in a temporary project with allure-pytest-bdd recording.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from allure_commons import model2

from harness import html_report, reporting
from harness.errors import GalleryMismatch, SchemaViolation, TransportFailure, WrongStatus
from harness.exchange import Exchange, PartSummary

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASE = "http://127.0.0.1:8123/api/v1"
PNG_SHA = "a" * 64
TOKEN_A = "tok-A-5d1c2b9e8f7a"
TOKEN_B = "tok-B-0e9d8c7b6a5f"


@pytest.fixture(autouse=True)
def known_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRETCH_TOKEN", TOKEN_A)
    monkeypatch.setenv("STRETCH_TOKEN_B", TOKEN_B)
    monkeypatch.delenv("STRETCH_REF_TOKENS", raising=False)


def upload_exchange(**changes) -> Exchange:
    values = dict(
        method="POST",
        url=f"{BASE}/storage/image",
        request_headers={
            "Authorization": "Bearer <redacted>",
            "Content-Type": "multipart/form-data; boundary=abc",
            "User-Agent": "python-httpx/0.29.0",
            "Accept": "*/*",
        },
        parts=[
            PartSummary("file", "photo.png", "image/png", 20_971_520, PNG_SHA),
            PartSummary("title", None, None, 7, None),
        ],
        status=200,
        response_headers={"content-type": "application/json", "content-length": "31"},
        response_body=b'{"id": "1f0c", "title": "Holiday"}',
        elapsed_seconds=0.25,
        user="A",
    )
    values.update(changes)
    return Exchange(**values)


# --- curl ----------------------------------------------------------------------------------


def test_curl_for_a_multipart_upload_leaves_the_token_as_a_variable():
    assert reporting.curl_command(upload_exchange()) == (
        f"curl {BASE}/storage/image \\\n"
        '  -H "Authorization: Bearer $STRETCH_TOKEN" \\\n'
        "  -H 'Accept: */*' \\\n"
        "  -F 'file=@photo.png;type=image/png' \\\n"
        "  --form-string 'title=<value not recorded: 7 bytes>'"
    )


def test_curl_uses_form_values_when_the_exchange_carries_them():
    command = reporting.curl_command(upload_exchange(json_body={"title": "It's mine"}))

    assert command.endswith("--form-string 'title=It'\"'\"'s mine'"), command


def test_curl_for_user_b_sending_json_names_the_second_token():
    exchange = Exchange(
        method="PUT",
        url=f"{BASE}/storage/images/order",
        request_headers={"Authorization": "Bearer <redacted>", "Content-Type": "application/json"},
        json_body={"order": ["b2", "a1"]},
        status=200,
        user="B",
    )

    assert reporting.curl_command(exchange) == (
        f"curl -X PUT {BASE}/storage/images/order \\\n"
        '  -H "Authorization: Bearer $STRETCH_TOKEN_B" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        """  --data-raw '{"order": ["b2", "a1"]}'"""
    )


def test_curl_without_a_user_sends_no_token_and_keeps_a_wrong_one_redacted():
    plain = Exchange(method="GET", url=f"{BASE}/storage/images", request_headers={}, status=401)
    wrong = Exchange(
        method="DELETE",
        url=f"{BASE}/storage/image/1f0c",
        request_headers={"Authorization": "Bearer not-a-real-token"},
        status=401,
    )

    assert reporting.curl_command(plain) == f"curl {BASE}/storage/images"
    assert reporting.curl_command(wrong) == (
        f"curl -X DELETE {BASE}/storage/image/1f0c \\\n  -H 'Authorization: Bearer <redacted>'"
    )


def test_curl_quotes_a_file_name_with_quotes_and_separators():
    part = PartSummary("file", 'my "best"; photo.png', "image/png", 10, PNG_SHA)
    command = reporting.curl_command(upload_exchange(parts=[part]))

    assert command.splitlines()[-1] == """  -F 'file=@"my \\"best\\"; photo.png";type=image/png'"""


# --- redaction -----------------------------------------------------------------------------


def test_credential_headers_are_redacted_and_others_kept():
    shown = reporting.redact_headers(
        {
            "Authorization": f"Bearer {TOKEN_A}",
            "Cookie": "session=1",
            "X-Auth-Token": "abc",
            "Accept": "application/json",
        }
    )

    assert shown == {
        "Authorization": "Bearer <redacted>",
        "Cookie": "<redacted>",
        "X-Auth-Token": "<redacted>",
        "Accept": "application/json",
    }


def test_scrub_removes_configured_registered_and_bearer_tokens(monkeypatch):
    monkeypatch.setenv("STRETCH_REF_TOKENS", "alice=ref-alice-token,bob=ref-bob-token")
    reporting.register_secret("generated-token-xyz")
    text = f"{TOKEN_A} {TOKEN_B} ref-bob-token generated-token-xyz Bearer abcdef123456 $X"

    assert reporting.scrub(text) == (
        "<redacted> <redacted> <redacted> <redacted> Bearer <redacted> $X"
    )


def test_safe_url_drops_user_info_and_hides_token_query_values():
    url = "http://user:pw@127.0.0.1:8123/api/v1/storage/images?access_token=abc&page=2"

    assert reporting.safe_url(url) == (
        "http://127.0.0.1:8123/api/v1/storage/images?access_token=<redacted>&page=2"
    )


# --- exchange text -------------------------------------------------------------------------


def test_multipart_parts_are_summarised_without_their_bytes():
    file_part = PartSummary("files", "a.jpg", "image/jpeg", 1234, PNG_SHA)
    field = PartSummary("title", None, None, 5, None)

    assert reporting.describe_part(file_part) == (
        f"files: filename 'a.jpg', content-type image/jpeg, 1,234 bytes, sha256 {PNG_SHA}"
    )
    assert reporting.describe_part(field) == "title: form field, 5 bytes"


def test_exchange_text_shows_request_answer_and_pretty_json():
    text = reporting.exchange_text(upload_exchange())

    assert text == textwrap.dedent(
        f"""\
        POST {BASE}/storage/image  (user A)
        Answer: 200 OK in 0.250 s

        Request headers
          Authorization: Bearer <redacted>
          Content-Type: multipart/form-data; boundary=abc
          User-Agent: python-httpx/0.29.0
          Accept: */*

        Request body: multipart/form-data, 2 part(s)
          file: filename 'photo.png', content-type image/png, 20,971,520 bytes, sha256 {PNG_SHA}
          title: form field, 7 bytes

        Response headers
          content-type: application/json
          content-length: 31

        Response body (application/json, 34 bytes)
        {{
          "id": "1f0c",
          "title": "Holiday"
        }}"""
    )


def test_a_token_echoed_by_the_server_is_redacted_from_the_exchange():
    body = json.dumps({"detail": f"bad token {TOKEN_B}"}).encode()
    text = reporting.exchange_text(upload_exchange(response_body=body, user="B"))

    assert TOKEN_B not in text
    assert '"detail": "bad token <redacted>"' in text


def test_binary_bodies_are_summarised_by_size_type_and_sha256():
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    digest = hashlib.sha256(data).hexdigest()

    assert reporting.describe_body(data, "image/png") == (
        f"<1,032 bytes, content-type image/png, sha256 {digest}>"
    )
    assert reporting.describe_body(data, None) == (
        f"<1,032 bytes, content-type not given, sha256 {digest}>"
    )


def test_text_beyond_64_kib_is_cut_with_a_note():
    data = b"x" * (64 * 1024 + 10)

    shown = reporting.describe_body(data, "text/plain")

    assert shown == "x" * 65536 + "\n… 10 more bytes not shown (65,546 in all)"


def test_bodies_that_claim_json_but_are_not_say_so():
    assert reporting.describe_body(b"{oops", "application/json") == "(not valid JSON)\n{oops"
    assert reporting.describe_body(b"", "application/json") == "(empty)"
    assert reporting.describe_body(b"[1, 2]", None) == "[\n  1,\n  2\n]"


def test_a_transport_failure_shows_no_answer():
    exchange = upload_exchange(status=None, response_headers={}, error="connection refused")

    text = reporting.exchange_text(exchange)

    assert text.splitlines()[1] == "No answer: connection refused"
    assert "Response body" not in text


# --- failures ------------------------------------------------------------------------------


def test_schema_failure_text_names_schema_path_and_instance_path():
    exc = SchemaViolation(
        "file_base_list",
        "/items/properties/id/format",
        "/0/id",
        "'img-12' is not a 'uuid'",
        f"GET {BASE}/storage/images as A",
    )

    assert reporting.failure_text(exc) == (
        "Schema violation (SchemaViolation)\n"
        "  schema:        file_base_list\n"
        "  schema path:   /items/properties/id/format\n"
        "  instance path: /0/id\n"
        "  problem:       'img-12' is not a 'uuid'\n"
        f"  request:       GET {BASE}/storage/images as A"
    )


def test_other_failures_keep_their_message_and_category():
    exc = WrongStatus("delete answers 200", 404, [200], "DELETE /x as A")

    assert reporting.failure_text(exc) == (
        "Wrong status (WrongStatus)\ndelete answers 200\n  received: 404\n"
        "  expected: [200]\n  request:  DELETE /x as A"
    )
    assert reporting.failure_text(KeyError("id")).splitlines()[0] == "Harness error (KeyError)"


def test_attaching_does_nothing_when_allure_is_not_recording(monkeypatch):
    calls = []
    monkeypatch.setattr(reporting.allure, "attach", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(reporting._state, "recording", False)

    reporting.attach_exchange(upload_exchange())
    reporting.attach_failure(WrongStatus("c", 1, 2))

    assert calls == []


# --- categories ----------------------------------------------------------------------------


def _category(message: str, status: str) -> str | None:
    """First matching category, as Allure 3 picks it (regex search) and Allure 2 (full match)."""
    for category in reporting.CATEGORIES:
        if status not in category["matchedStatuses"]:
            continue
        pattern = category.get("messageRegex")
        if pattern is None:
            return category["name"]
        searched = re.search(pattern, message) is not None
        assert searched == (re.fullmatch(pattern, message) is not None), pattern
        if searched:
            return category["name"]
    return None


@pytest.mark.parametrize(
    ("message", "status", "expected"),
    [
        ("harness.errors.SchemaViolation: response body does not match", "failed",
         "Schema violation"),
        ("harness.errors.WrongStatus: upload answers 200\n  received: 500", "failed",
         "Wrong status"),
        ("harness.errors.GalleryMismatch: the gallery lists 3 images", "failed",
         "Gallery state mismatch"),
        ("harness.errors.TransportFailure: GET /x as A: no answer", "failed",
         "Transport error or timeout"),
        ("Failed: Timeout (>300.0s) from pytest-timeout.", "failed",
         "Transport error or timeout"),
        ("httpx.ReadTimeout: timed out", "broken", "Transport error or timeout"),
        ("harness.errors.ConformanceFailure: thumb is an image", "failed", "Wrong behaviour"),
        ("KeyError: 'id'", "broken", "Harness error"),
        ("AssertionError: assert 2 == 3", "failed", None),
        ("AssertionError: mentions WrongStatus later", "failed", None),
    ],
)
def test_failures_fall_into_the_expected_category(message, status, expected):
    assert _category(message, status) == expected


def test_error_classes_carry_the_category_names_the_report_uses():
    names = {c["name"] for c in reporting.CATEGORIES}
    classes = (SchemaViolation, WrongStatus, GalleryMismatch, TransportFailure)

    assert {cls.category.capitalize() for cls in classes} <= names


# --- results -------------------------------------------------------------------------------


def test_finish_result_fixes_labels_parameters_and_secrets():
    step = model2.TestStepResult(
        name='When Alice uploads "photo.png" as 2 copies',
        parameters=[
            model2.Parameter(name="name", value="'photo.png'"),
            model2.Parameter(name="copies", value="2"),
            model2.Parameter(name="world", value="<harness.world.World object at 0x7f>"),
            model2.Parameter(name="base_url", value=f"'{BASE}'"),
        ],
        statusDetails=model2.StatusDetails(message="boom", trace=f"token = '{TOKEN_A}'"),
    )
    result = model2.TestResult(
        labels=[
            model2.Label("feature", "Upload"),
            model2.Label("tag", "smoke"),
            model2.Label("tag", "smoke"),
            model2.Label("tag", "critical"),
            model2.Label("severity", "normal"),
        ],
        steps=[step],
        statusDetails=model2.StatusDetails(message=f"Bearer {TOKEN_B} refused"),
    )

    reporting.finish_result(result)

    assert [(lb.name, lb.value) for lb in result.labels] == [
        ("feature", "Upload"),
        ("tag", "smoke"),
        ("severity", "critical"),
        ("epic", reporting.EPIC),
    ]
    kept = [(p.name, p.value) for p in step.parameters]
    assert kept == [("name", "'photo.png'"), ("copies", "2")]
    assert step.statusDetails.trace == "token = '<redacted>'"
    assert result.statusDetails.message == "Bearer <redacted> refused"


def test_run_metadata_files(tmp_path, monkeypatch):
    monkeypatch.setenv("STRETCH_BASE_URL", "https://qa:secret@staging.example/api/v1")
    monkeypatch.setattr(reporting._state, "target_url", None)
    monkeypatch.setattr(reporting._state, "target_embedded", None)

    reporting.write_run_metadata(tmp_path)

    lines = (tmp_path / "environment.properties").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines)
    assert values["target.url"] == "https://staging.example/api/v1"
    assert values["target.kind"] == "remote"
    assert values["suite.version"] == "0.1.0"
    assert values["package.allure-pytest-bdd"] == "2.16.2"
    assert values["python"].startswith("CPython 3.11")
    assert sorted(values) == sorted(
        ["target.url", "target.kind", "suite.version", "suite.commit", "python", "platform"]
        + [f"package.{name}" for name in reporting.PACKAGES]
    )
    categories = json.loads((tmp_path / "categories.json").read_text())
    assert categories == list(reporting.CATEGORIES)


# --- the plugin in a real pytest-bdd run ---------------------------------------------------

# A scenario after a Rule belongs to it, so the one outside any Rule comes first.
FEATURE = """\
@smoke
Feature: Uploading
  Scenario: Alice sees a wrong status
    Given a gallery with 2 images
    Then the server answers 500

  Rule: A title is kept

    @critical @two_users
    Scenario: Alice uploads a titled photo
      Given a gallery with 2 images
      When Alice uploads "photo.png"
      Then the gallery has 3 images
"""

STEPS = f"""\
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from harness.errors import WrongStatus
from harness.exchange import Exchange, PartSummary
from harness.reporting import attach_exchange, attach_failure

scenarios("uploading.feature")


@pytest.fixture
def api():
    return object()


@given(parsers.parse("a gallery with {{count:d}} images"), target_fixture="gallery")
def _(count, api):
    return list(range(count))


@when(parsers.parse('Alice uploads "{{name}}"'))
def _(gallery, name, api):
    attach_exchange(Exchange(
        method="POST",
        url="{BASE}/storage/image",
        request_headers={{"Authorization": "Bearer <redacted>"}},
        parts=[PartSummary("file", name, "image/png", 10, "{PNG_SHA}")],
        status=200,
        response_headers={{"content-type": "application/json"}},
        response_body=b'{{"echo": "{TOKEN_A}"}}',
        user="A",
    ))
    gallery.append(name)


@then(parsers.parse("the gallery has {{count:d}} images"))
def _(gallery, count):
    assert len(gallery) == count


@then(parsers.parse("the server answers {{status:d}}"))
def _(status):
    failure = WrongStatus("listing answers 200", status, [200], "GET /storage/images as A")
    attach_failure(failure)
    raise failure
"""


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory) -> Path:
    """allure-pytest-bdd results of a two-scenario project that uses this plugin."""
    project = tmp_path_factory.mktemp("plugin-run")
    (project / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    smoke: s\n    two_users: t\naddopts = -p no:cacheprovider\n"
    )
    (project / "conftest.py").write_text('pytest_plugins = ["harness.reporting"]\n')
    (project / "uploading.feature").write_text(FEATURE)
    (project / "test_uploading.py").write_text(STEPS)
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "STRETCH_TOKEN": TOKEN_A,
        "STRETCH_BASE_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--strict-markers", "--alluredir", "results"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, f"expected one failing scenario:\n{done.stdout}\n{done.stderr}"
    return project / "results"


def _results(directory: Path) -> dict[str, dict]:
    found = [json.loads(p.read_text()) for p in directory.glob("*-result.json")]
    return {r["name"]: r for r in found}


def _labels(result: dict) -> list[tuple[str, str]]:
    hidden = {"host", "thread", "framework", "language"}
    return sorted((lb["name"], lb["value"]) for lb in result["labels"] if lb["name"] not in hidden)


def test_plugin_labels_scenarios_from_the_feature(plugin_run):
    results = _results(plugin_run)

    assert sorted(results) == ["Alice sees a wrong status", "Alice uploads a titled photo"]
    assert _labels(results["Alice uploads a titled photo"]) == [
        ("epic", reporting.EPIC),
        ("feature", "Uploading"),
        ("severity", "critical"),
        ("story", "A title is kept"),
        ("tag", "smoke"),
        ("tag", "two_users"),
    ]
    assert _labels(results["Alice sees a wrong status"]) == [
        ("epic", reporting.EPIC),
        ("feature", "Uploading"),
        ("severity", "normal"),
        ("tag", "smoke"),
    ]


def test_plugin_keeps_only_step_text_values_as_step_parameters(plugin_run):
    steps = _results(plugin_run)["Alice uploads a titled photo"]["steps"]

    assert [(s["name"], s.get("parameters", [])) for s in steps] == [
        ("Given a gallery with 2 images", [{"name": "count", "value": "2"}]),
        ('When Alice uploads "photo.png"', [{"name": "name", "value": "'photo.png'"}]),
        ("Then the gallery has 3 images", [{"name": "count", "value": "3"}]),
    ]


def test_plugin_attaches_the_exchange_and_curl_to_the_step_that_sent_it(plugin_run):
    when = _results(plugin_run)["Alice uploads a titled photo"]["steps"][1]
    attachments = {a["name"]: (plugin_run / a["source"]).read_text() for a in when["attachments"]}

    exchange_name = "POST /api/v1/storage/image → 200"
    assert sorted(attachments) == [exchange_name, f"curl: {exchange_name}"]
    assert attachments[f"curl: {exchange_name}"] == (
        f"curl {BASE}/storage/image \\\n"
        '  -H "Authorization: Bearer $STRETCH_TOKEN" \\\n'
        "  -F 'file=@photo.png;type=image/png'"
    )
    assert '"echo": "<redacted>"' in attachments[exchange_name]


def test_plugin_attaches_failures_and_the_report_categorises_them(plugin_run):
    failed = _results(plugin_run)["Alice sees a wrong status"]
    then = failed["steps"][1]
    attachment = then["attachments"][0]

    assert failed["status"] == "failed"
    assert _category(failed["statusDetails"]["message"], "failed") == "Wrong status"
    assert attachment["name"] == "Failure: Wrong status"
    assert (plugin_run / attachment["source"]).read_text().splitlines()[0] == (
        "Wrong status (WrongStatus)"
    )


def test_plugin_writes_environment_and_categories_and_no_token(plugin_run):
    environment = (plugin_run / "environment.properties").read_text()

    assert "target.kind=embedded\n" in environment
    assert json.loads((plugin_run / "categories.json").read_text()) == list(reporting.CATEGORIES)
    leaks = [p.name for p in plugin_run.iterdir() if TOKEN_A in p.read_text(errors="replace")]
    assert leaks == [], f"files holding the token: {leaks}"


# --- the HTML report builder ---------------------------------------------------------------

GENERATED = """<!DOCTYPE html>
<html><head>
    <meta charset="utf-8">
    <script>window.allureReportOptions = {}</script>
</head><body>
    <script src="data:text/javascript;base64,AAAA"></script>
    <script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
    <script>
        window.dataLayer = window.dataLayer || [];
        function gtag(){dataLayer.push(arguments);}
    </script>
    <script src="//cdn.example/x.js"></script>
</body></html>"""


def test_make_offline_removes_remote_scripts_and_adds_a_network_policy():
    page = html_report.make_offline(GENERATED)

    assert page == (
        "<!DOCTYPE html>\n<html><head>\n"
        f'    <meta http-equiv="Content-Security-Policy" content="{html_report.CSP}">\n'
        '    <meta charset="utf-8">\n'
        "    <script>window.allureReportOptions = {}</script>\n"
        "</head><body>\n"
        '    <script src="data:text/javascript;base64,AAAA"></script>\n'
        "    </body></html>"
    )
    assert "connect-src data: blob:;" in html_report.CSP
    assert "http" not in html_report.CSP


def test_report_config_is_single_file_with_history_and_the_suite_categories(tmp_path):
    (tmp_path / "categories.json").write_text(json.dumps(list(reporting.CATEGORIES)))

    config = html_report.report_config(tmp_path, tmp_path / "out", tmp_path / "h.jsonl")

    assert config["plugins"]["awesome"]["options"]["singleFile"] is True
    assert config["historyPath"] == str(tmp_path / "h.jsonl")
    assert config["output"] == str(tmp_path / "out")
    assert config["categories"] == list(reporting.CATEGORIES)


def test_without_node_the_report_command_says_so_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))

    status = html_report.main(["--results", str(tmp_path), "--out", str(tmp_path / "html")])

    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("html_report: `node` is not on PATH")
    assert len(captured.err.strip().splitlines()) == 1


def test_without_results_the_report_command_says_what_to_run(tmp_path, capsys):
    if html_report.shutil.which("node") is None:
        pytest.skip("node is not installed; the previous test covers that message")

    status = html_report.main(["--results", str(tmp_path / "none")])

    assert status == 2
    assert capsys.readouterr().err == (
        f"html_report: no Allure results in {tmp_path / 'none'}: run the suite with "
        f"--alluredir {tmp_path / 'none'} first\n"
    )
