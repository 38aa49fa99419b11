"""Checks on answers fail with what was checked, what came back, what was expected, and why."""

from __future__ import annotations

import json

import pytest

from harness.client import Reply
from harness.contract import load_contract
from harness.errors import ConformanceFailure, GalleryMismatch, SchemaViolation, WrongStatus
from harness.exchange import Exchange
from harness.expect import (
    expect_equal,
    expect_refusal,
    expect_same_gallery,
    expect_status,
    expect_success,
)

BASE = "http://127.0.0.1:8000/api/v1"
UPLOAD_LINE = f"POST {BASE}/storage/image as user A"
ID_1 = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
ID_2 = "9c7e1a52-0d4b-4f4e-8a8e-2b9f1c3d5e7a"


def reply(status: int, body: object = b"", schema_error: SchemaViolation | None = None) -> Reply:
    """A reply to an upload as user A; `body` may be bytes or a JSON value."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    exchange = Exchange(
        method="POST",
        url=f"{BASE}/storage/image",
        request_headers={"Authorization": "Bearer <redacted>"},
        status=status,
        response_body=raw,
        user="A",
    )
    return Reply(exchange, schema_error=schema_error)


def violation() -> SchemaViolation:
    message = "'id' is a required property"
    return SchemaViolation("file_base", "/required", "/", message, UPLOAD_LINE)


@pytest.fixture(scope="module")
def contract():
    return load_contract()


# Status checks.


def test_wrong_status_says_what_was_checked_what_came_back_and_what_was_expected():
    answer = reply(500, b'{"detail": "storage is down"}')

    with pytest.raises(WrongStatus) as caught:
        expect_status(answer, [200, 201], "Alice's upload is stored")

    assert str(caught.value) == (
        "Alice's upload is stored\n"
        '  received: 500 {"detail": "storage is down"}\n'
        "  expected: status 200 or 201\n"
        f"  request:  {UPLOAD_LINE}"
    )
    assert (caught.value.category, answer.reported) == ("wrong status", True)


def test_wrong_status_with_an_empty_body_says_so():
    with pytest.raises(WrongStatus) as caught:
        expect_status(reply(502), [200], "the gallery is listed")

    assert caught.value.received == "502 (empty body)"
    assert caught.value.expected == "status 200"


def test_wrong_status_cuts_a_long_body_at_300_characters():
    with pytest.raises(WrongStatus) as caught:
        expect_status(reply(500, b"x" * 301), [200], "the upload is stored")

    assert caught.value.received == "500 " + "x" * 300 + "…"


def test_allowed_status_passes_and_leaves_the_reply_unreported():
    answer = reply(201, {"id": ID_1})

    expect_status(answer, (200, 201), "the upload is stored")

    assert answer.reported is False


# Success: status first, then schema.


def test_success_returns_the_parsed_body():
    assert expect_success(reply(200, {"id": ID_1}), "the upload is stored", [200]) == {"id": ID_1}


def test_success_with_an_empty_body_returns_none():
    assert expect_success(reply(204, b" \n"), "the image is updated", [200, 204]) is None


def test_success_with_a_schema_error_raises_it_after_the_status_check():
    error = violation()
    answer = reply(200, {"title": "Beach"}, schema_error=error)

    with pytest.raises(SchemaViolation) as caught:
        expect_success(answer, "the upload is stored", [200])

    assert caught.value is error
    assert answer.reported is True


def test_wrong_status_is_reported_before_a_schema_error():
    answer = reply(500, b"<html>oops</html>", schema_error=violation())

    with pytest.raises(WrongStatus) as caught:
        expect_success(answer, "the upload is stored", [200])

    assert caught.value.received == "500 <html>oops</html>"
    assert caught.value.request == UPLOAD_LINE


# Refusals.


def test_refusal_with_an_allowed_status_passes(contract):
    expect_refusal(reply(413, {"detail": "too large"}), "too_large", contract)


def test_refusal_with_a_status_the_contract_does_not_allow(contract):
    answer = reply(200, {"id": ID_1})

    with pytest.raises(WrongStatus) as caught:
        expect_refusal(answer, "too_large", contract)

    assert str(caught.value) == (
        "the request is refused as too large\n"
        f'  received: 200 {{"id": "{ID_1}"}}\n'
        "  expected: status 413 or 400 or 422\n"
        f"  request:  {UPLOAD_LINE}"
    )


def test_refusal_status_is_checked_before_its_schema(contract):
    with pytest.raises(WrongStatus):
        expect_refusal(reply(500, b"", schema_error=violation()), "not_found", contract)


def test_refusal_with_a_schema_error_raises_it(contract):
    error = violation()

    with pytest.raises(SchemaViolation) as caught:
        expect_refusal(reply(404, b"Not Found", schema_error=error), "not_found", contract)

    assert caught.value is error


@pytest.mark.parametrize("body", [{"detail": []}, {"detail": None}, {}])
def test_validation_refusal_without_details_fails(contract, body):
    answer = reply(422, body)

    with pytest.raises(ConformanceFailure) as caught:
        expect_refusal(answer, "validation", contract)

    assert str(caught.value) == (
        "a validation error names what was wrong\n"
        f"  received: 422 {json.dumps(body)}\n"
        "  expected: a non-empty `detail` list of {loc, msg, type}\n"
        f"  request:  {UPLOAD_LINE}"
    )


def test_validation_refusal_with_details_passes(contract):
    detail = [{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}]

    expect_refusal(reply(422, {"detail": detail}), "validation", contract)


# Equality and gallery state.


def test_expect_equal_shows_both_values_as_repr():
    with pytest.raises(ConformanceFailure) as caught:
        expect_equal("the title is kept", "beach", "Beach", UPLOAD_LINE)

    assert (caught.value.received, caught.value.expected) == ("'beach'", "'Beach'")


def test_expect_equal_raises_the_failure_type_asked_for():
    with pytest.raises(GalleryMismatch):
        expect_equal("the order", [ID_2], [ID_1], UPLOAD_LINE, GalleryMismatch)


def record(image_id: str, title: str, **changes: object) -> dict:
    body = {
        "title": title,
        "description": "",
        "contentType": "image/png",
        "id": image_id,
        "originFilename": f"{title.lower()}.png",
        "url": f"{BASE}/media/{image_id}.png?sig=1",
        "thumb": f"{BASE}/media/{image_id}-thumb.png?sig=1",
        "filesize": 852,
        "status": "approved",
    }
    body.update(changes)
    return body


GALLERY = [record(ID_1, "Beach"), record(ID_2, "Forest")]
LIST_LINE = f"GET {BASE}/storage/images as user A"


def test_same_gallery_ignores_re_signed_url_and_thumb():
    now = [
        record(ID_1, "Beach", url="https://cdn.example/a?sig=2", thumb=None),
        record(ID_2, "Forest", url="https://cdn.example/b?sig=2"),
    ]

    expect_same_gallery("the gallery is unchanged", now, GALLERY, LIST_LINE)


def test_same_gallery_sees_a_changed_title():
    now = [{**record(ID_1, "Beach"), "title": "Sea"}, record(ID_2, "Forest")]

    with pytest.raises(GalleryMismatch) as caught:
        expect_same_gallery("the gallery is unchanged", now, GALLERY, LIST_LINE)

    assert str(caught.value) == (
        "the gallery is unchanged\n"
        "  received: \n"
        f"    {ID_1} 'beach.png' title='Sea' 852 bytes image/png\n"
        f"    {ID_2} 'forest.png' title='Forest' 852 bytes image/png\n"
        "  expected: \n"
        f"    {ID_1} 'beach.png' title='Beach' 852 bytes image/png\n"
        f"    {ID_2} 'forest.png' title='Forest' 852 bytes image/png\n"
        f"  request:  {LIST_LINE}"
    )
    assert caught.value.category == "gallery state mismatch"


def test_same_gallery_sees_a_changed_order():
    with pytest.raises(GalleryMismatch):
        expect_same_gallery("the order is kept", list(reversed(GALLERY)), GALLERY, LIST_LINE)


@pytest.mark.parametrize(
    "changes",
    [{"description": "changed"}, {"filesize": 853}, {"contentType": "image/jpeg"},
     {"originFilename": "other.png"}, {"status": "pending"}],
    ids=lambda c: next(iter(c)),
)  # fmt: skip
def test_same_gallery_sees_every_other_changed_field(changes):
    now = [record(ID_1, "Beach", **changes), record(ID_2, "Forest")]

    with pytest.raises(GalleryMismatch):
        expect_same_gallery("the gallery is unchanged", now, GALLERY, LIST_LINE)


def test_same_gallery_names_an_empty_gallery():
    with pytest.raises(GalleryMismatch) as caught:
        expect_same_gallery("the gallery is unchanged", [], GALLERY[:1], LIST_LINE)

    assert caught.value.received == "[] (empty gallery)"
    assert caught.value.expected == f"\n    {ID_1} 'beach.png' title='Beach' 852 bytes image/png"
