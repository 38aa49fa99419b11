"""The upload rules in one place: size limit, empty files, type, stored names and titles."""

from __future__ import annotations

import threading
import unicodedata

import anyio.to_thread
from fastapi import HTTPException

from reference_server.config import ServerConfig
from reference_server.forms import FilePart, FormLimits, validation_error
from reference_server.imaging import (
    CheckedImage,
    ImageRefused,
    TypeRules,
    best_effort_thumbnail,
    check_image,
)
from reference_server.storage import NewFile

# Room in a body for everything that is not file bytes: part headers, boundaries, a title.
_BODY_SLACK = 1_048_576
# Decoding a large image takes a lot of memory; two at a time keep the server's peak bounded.
_DECODE_SLOTS = threading.BoundedSemaphore(2)


def largest_accepted_size(config: ServerConfig) -> int:
    """The largest file accepted: the limit itself is allowed (inclusive)."""
    if config.fault("size_limit_one_byte_short"):
        return config.max_bytes - 1
    if config.fault("size_limit_one_byte_over"):
        return config.max_bytes + 1
    return config.max_bytes


def form_limits(config: ServerConfig, max_files: int) -> FormLimits:
    largest = largest_accepted_size(config)
    return FormLimits(
        max_file_bytes=largest,
        max_files=max_files,
        max_parts=max(config.max_parts, max_files + 8),
        max_field_bytes=config.max_field_bytes,
        max_body_bytes=max_files * (largest + _BODY_SLACK) + _BODY_SLACK,
        file_limit_text=f"the limit of {config.max_bytes} bytes{_reading(config.max_bytes)}",
        too_large_status=too_large_status(config),
    )


def _reading(max_bytes: int) -> str:
    readings = {20 * 1_048_576: "20 x 1,048,576", 20 * 1_000_000: "20 x 1,000,000"}
    return f" (20 MB read as {readings[max_bytes]})" if max_bytes in readings else ""


def too_large_status(config: ServerConfig) -> int:
    return 400 if config.choice("too_large_400") else 413


def wrong_type_status(config: ServerConfig) -> int:
    if config.choice("wrong_type_422"):
        return 422
    return 400 if config.choice("wrong_type_400") else 415


def empty_file_status(config: ServerConfig) -> int:
    return 422 if config.choice("empty_file_422") else 400


def upload_refusal(status: int, detail: str, part: FilePart) -> Exception:
    """The exception that refuses one file: a 422 comes in FastAPI's validation shape."""
    if status == 422:
        return validation_error(part.field, "value_error", f"Value error, {detail}", part.filename)
    return HTTPException(status, detail)


def type_rules(config: ServerConfig) -> TypeRules:
    judge_by = "bytes"
    if config.fault("type_by_filename"):
        judge_by = "filename"
    elif config.fault("type_by_declared_content_type"):
        judge_by = "declared"
    return TypeRules(
        max_pixels=config.max_pixels,
        thumb_pixels=config.thumb_pixels,
        judge_by=judge_by,
        accept_gif=config.fault("accepts_gif"),
        full_decode=not config.fault("accept_truncated_image"),
        names_must_match=config.choice("refuse_mismatched_names"),
    )


async def check_upload(part: FilePart, config: ServerConfig) -> NewFile:
    """Judge one spooled file; raise the exception that refuses it (see upload_refusal)."""
    rules = type_rules(config)
    if part.size == 0:
        if not config.fault("accept_empty_file"):
            detail = f"File {part.filename!r} is empty."
            raise upload_refusal(empty_file_status(config), detail, part)
        thumb, thumb_type = best_effort_thumbnail(part.path, rules)
        return _new_file(part, config, "image/png", thumb, thumb_type)
    try:
        checked = await anyio.to_thread.run_sync(_check_in_slot, part, rules)
    except ImageRefused as refusal:
        # The imaging module speaks in the default statuses; the choices may answer others.
        status = too_large_status(config) if refusal.status == 413 else wrong_type_status(config)
        detail = f"File {part.filename!r}: {refusal.detail}"
        raise upload_refusal(status, detail, part) from None
    return _new_file(part, config, checked.content_type, checked.thumb, checked.thumb_type)


def _check_in_slot(part: FilePart, rules: TypeRules) -> CheckedImage:
    with _DECODE_SLOTS:
        return check_image(part.path, part.filename, part.content_type, rules)


def _new_file(
    part: FilePart, config: ServerConfig, content_type: str, thumb: bytes, thumb_type: str
) -> NewFile:
    return NewFile(
        spooled=part.path,
        origin_filename=stored_filename(part.filename, config),
        content_type=content_type,
        filesize=part.size,
        thumb=thumb,
        thumb_type=thumb_type,
    )


def stored_filename(filename: str, config: ServerConfig) -> str:
    """originFilename is the name exactly as the client sent it."""
    if config.fault("filename_mangled"):
        return "".join(ch for ch in filename if ch.isascii() and ch not in "\"'")
    return filename


def stored_title(title: str | None, config: ServerConfig, filename: str = "") -> str | None:
    """A title is stored exactly as sent; no title is null, or what the untitled_* choices say."""
    if title is None:
        return untitled_title(filename, config)
    if config.fault("title_mangled"):
        return "".join(
            "?" if not ch.isascii() and unicodedata.category(ch).startswith("L") else ch
            for ch in title
        )
    return title


def untitled_title(filename: str, config: ServerConfig) -> str | None:
    """The title of an upload sent without one."""
    if config.choice("untitled_is_filename"):
        return filename
    return "" if config.choice("untitled_is_empty") else None
