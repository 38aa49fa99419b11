"""Checks on answers. Each failure says what was checked, what came back, what was expected."""

from __future__ import annotations

from collections.abc import Iterable

from harness.client import Reply
from harness.contract import Contract
from harness.errors import ConformanceFailure, GalleryMismatch, WrongStatus

REFUSAL_WORDS = {
    "unauthenticated": "refused as unauthenticated",
    "too_large": "refused as too large",
    "wrong_type": "refused as the wrong type",
    "empty_file": "refused as an empty file",
    "bad_order": "refused as a bad order",
    "not_found": "refused as not found",
    "foreign_image": "refused as another user's image",
    "validation": "refused with a validation error",
}


def _statuses(allowed: Iterable[int]) -> str:
    return " or ".join(str(s) for s in allowed)


def raise_schema_error(reply: Reply) -> None:
    __tracebackhide__ = True
    if reply.schema_error is not None:
        reply.reported = True
        raise reply.schema_error


def expect_status(reply: Reply, allowed: Iterable[int], checked: str) -> None:
    __tracebackhide__ = True
    allowed = tuple(allowed)
    if reply.status not in allowed:
        reply.reported = True
        raise WrongStatus(checked, reply.excerpt(), f"status {_statuses(allowed)}", reply.request)


def expect_success(reply: Reply, checked: str, allowed: Iterable[int]) -> object:
    """The status is a success the contract allows and the body matches its schema."""
    __tracebackhide__ = True
    expect_status(reply, allowed, checked)
    raise_schema_error(reply)
    return reply.json() if reply.body.strip() else None


def expect_refusal(reply: Reply, kind: str, contract: Contract) -> None:
    """The request was refused with a status the contract allows for this kind of refusal."""
    __tracebackhide__ = True
    expect_status(reply, contract.refusal(kind), f"the request is {REFUSAL_WORDS[kind]}")
    raise_schema_error(reply)
    if reply.status == 422:
        details = reply.json().get("detail")
        if not details:
            raise ConformanceFailure(
                "a validation error names what was wrong",
                reply.excerpt(),
                "a non-empty `detail` list of {loc, msg, type}",
                reply.request,
            )


def expect_equal(
    checked: str,
    received: object,
    expected: object,
    request: str,
    failure: type[ConformanceFailure] = ConformanceFailure,
) -> None:
    __tracebackhide__ = True
    if received != expected:
        raise failure(checked, repr(received), repr(expected), request)


def expect_one_of(checked: str, received: object, allowed: Iterable[object], request: str) -> None:
    __tracebackhide__ = True
    allowed = list(allowed)
    if received not in allowed:
        raise ConformanceFailure(
            checked, repr(received), " or ".join(repr(v) for v in allowed), request
        )


def expect_same_gallery(checked: str, received: list[dict], expected: list[dict], request: str):
    """Same images, same order, same fields (url and thumb may be re-signed between calls)."""
    __tracebackhide__ = True

    def essence(records: list[dict]) -> list[dict]:
        keep = (
            "id", "title", "description", "contentType", "originFilename", "filesize", "status"
        )  # fmt: skip
        return [{k: r.get(k) for k in keep} for r in records]

    if essence(received) != essence(expected):
        raise GalleryMismatch(checked, _gallery_text(received), _gallery_text(expected), request)


def _gallery_text(records: list[dict]) -> str:
    if not records:
        return "[] (empty gallery)"
    rows = [
        f"{r.get('id')} {r.get('originFilename')!r} title={r.get('title')!r} "
        f"{r.get('filesize')} bytes {r.get('contentType')}"
        for r in records
    ]
    return "\n    " + "\n    ".join(rows)
