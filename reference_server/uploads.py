"""The upload rules in one place: size limit, empty files, type, stored names and titles."""

from __future__ import annotations

import threading
import unicodedata

import anyio.to_thread
from fastapi import HTTPException

from reference_server.config import ServerConfig
from reference_server.forms import FilePart, FormLimits
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
        file_limit_text=f"the limit of {config.max_bytes} bytes (20 MB read as 20 x 1,048,576)"
        if config.max_bytes == 20 * 1_048_576
        else f"the limit of {config.max_bytes} bytes",
    )


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
    )


async def check_upload(part: FilePart, config: ServerConfig) -> NewFile:
    """Judge one spooled file; raise the HTTPException that refuses it."""
    rules = type_rules(config)
    if part.size == 0:
        if not config.fault("accept_empty_file"):
            raise HTTPException(400, f"File {part.filename!r} is empty.")
        thumb, thumb_type = best_effort_thumbnail(part.path, rules)
        return _new_file(part, config, "image/png", thumb, thumb_type)
    try:
        checked = await anyio.to_thread.run_sync(_check_in_slot, part, rules)
    except ImageRefused as refusal:
        raise HTTPException(refusal.status, f"File {part.filename!r}: {refusal.detail}") from None
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


def stored_title(title: str | None, config: ServerConfig) -> str | None:
    """A title is stored exactly as sent; no title stays null."""
    if title is not None and config.fault("title_mangled"):
        return "".join(
            "?" if not ch.isascii() and unicodedata.category(ch).startswith("L") else ch
            for ch in title
        )
    return title
