"""Reading form bodies with hard limits: file parts spool to disk, nothing grows unbounded.

FastAPI's own form parsing keeps no per-file size limit and drops RFC 5987 `filename*`, so the
upload routes read their bodies here. Every way a body can be wrong ends in a 4xx.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, unquote

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

logger = logging.getLogger(__name__)

_PARAM = re.compile(
    r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"(?=\s*(?:;|$))|[^;]*)',
    re.DOTALL,
)
# Escapes a client puts inside a quoted filename: `\"`, `\\` (RFC 2616 style, httpx) and
# `%22` plus control characters as %XX (the HTML form encoding browsers and httpx use).
_BACKSLASH_ESCAPE = re.compile(r'\\([\\"])')
_PERCENT_ESCAPE = re.compile(r"%(22|[01][0-9A-F])")


@dataclass(frozen=True)
class FormLimits:
    """Hard limits for one form body."""

    max_file_bytes: int
    max_files: int
    max_parts: int
    max_field_bytes: int
    max_body_bytes: int
    file_limit_text: str = ""
    too_large_status: int = 413  # every "too large" refusal of a form body


@dataclass
class FilePart:
    """One uploaded file, spooled to `path`; `filename` is exactly what the client named it."""

    field: str
    filename: str
    content_type: str | None
    path: Path
    size: int = 0


@dataclass
class ParsedForm:
    """The wanted parts of a form body, in the order they arrived."""

    items: list[tuple[str, FilePart | str]] = field(default_factory=list)
    spooled: list[Path] = field(default_factory=list)

    def files(self, name: str) -> list[FilePart]:
        """Every file sent under `name`; a text value there is a validation error."""
        found = [value for key, value in self.items if key == name]
        for value in found:
            if isinstance(value, str):
                raise validation_error(name, "value_error", "Value error, expected a file", value)
        return [value for value in found if isinstance(value, FilePart)]

    def required_files(self, name: str) -> list[FilePart]:
        found = self.files(name)
        if not found:
            raise missing_field(name)
        return found

    def optional_file(self, name: str) -> FilePart | None:
        """The last file sent under `name` (as FastAPI picks the last value), or None."""
        found = self.files(name)
        return found[-1] if found else None

    def optional_text(self, name: str) -> str | None:
        found = [value for key, value in self.items if key == name]
        if not found:
            return None
        value = found[-1]
        if isinstance(value, FilePart):
            raise validation_error(name, "string_type", "Input should be a valid string", None)
        return value

    def discard(self) -> None:
        """Delete spooled files nobody moved into storage."""
        for path in self.spooled:
            path.unlink(missing_ok=True)


def missing_field(name: str) -> RequestValidationError:
    return validation_error(name, "missing", "Field required", None)


def validation_error(name: str, kind: str, msg: str, value: Any) -> RequestValidationError:
    """A 422 in FastAPI's own shape for one body field."""
    error = {"type": kind, "loc": ("body", name), "msg": msg, "input": value}
    return RequestValidationError([error])


def parse_content_disposition(raw: bytes) -> tuple[str, dict[str, str]]:
    """Split a part's Content-Disposition into its type and decoded parameters."""
    text = _decode_header(raw)
    kind, _, rest = text.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        key, value = match.group(1).lower(), match.group(2).strip()
        if key.endswith("*"):
            extended = _decode_extended(value)
            if extended is not None:
                params[key] = extended
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _unescape_quoted(value[1:-1])
        params.setdefault(key, value)
    return kind.strip().lower(), params


def filename_from(params: dict[str, str]) -> str | None:
    """The file name a part carries; RFC 5987 `filename*` wins over `filename` (RFC 6266)."""
    return params.get("filename*", params.get("filename"))


def _decode_header(raw: bytes) -> str:
    # Clients send non-ASCII file names as raw UTF-8 in the header.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _unescape_quoted(value: str) -> str:
    value = _BACKSLASH_ESCAPE.sub(r"\1", value)
    return _PERCENT_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def _decode_extended(value: str) -> str | None:
    """Decode an RFC 5987 value such as `UTF-8''na%C3%AFve.png`; None when it is malformed."""
    charset, quote, rest = value.partition("'")
    _language, quote2, encoded = rest.partition("'")
    if not quote or not quote2:
        return None
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError):
        return None


@asynccontextmanager
async def read_form(
    request: Request,
    limits: FormLimits,
    spool_dir: Path,
    wanted: frozenset[str],
) -> AsyncIterator[ParsedForm]:
    """Read the body as a form, keeping only the `wanted` fields; spooled files go on exit."""
    form = ParsedForm()
    try:
        await _fill_form(request, limits, spool_dir, wanted, form)
        yield form
    finally:
        form.discard()


async def _fill_form(
    request: Request,
    limits: FormLimits,
    spool_dir: Path,
    wanted: frozenset[str],
    form: ParsedForm,
) -> None:
    _refuse_declared_length(request, limits)
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise HTTPException(400, "The multipart body has no boundary in its Content-Type.")
        reader = _MultipartReader(boundary, limits, spool_dir, wanted, form)
        await reader.read(request)
    elif kind == b"application/x-www-form-urlencoded":
        await _read_urlencoded(request, limits, wanted, form)
    # Any other body is treated as an empty form, as FastAPI does, so a required field is a 422.


def _refuse_declared_length(request: Request, limits: FormLimits) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise HTTPException(
            limits.too_large_status,
            f"The request body of {declared} bytes is larger than this call accepts.",
        )


async def _read_urlencoded(
    request: Request, limits: FormLimits, wanted: frozenset[str], form: ParsedForm
) -> None:
    body = bytearray()
    async for chunk in _stream(request):
        body += chunk
        if len(body) > limits.max_field_bytes * 2:
            raise HTTPException(
                limits.too_large_status, "The form body is larger than this call accepts."
            )
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=limits.max_parts,
        )
    except UnicodeDecodeError:
        raise HTTPException(400, "The form body is not valid URL-encoded UTF-8.") from None
    except ValueError:
        raise HTTPException(
            limits.too_large_status, "The form body has too many fields."
        ) from None
    form.items.extend((name, value) for name, value in pairs if name in wanted)


async def _stream(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise HTTPException(400, "The client went away before the body was complete.") from None


class _PartRefused(Exception):
    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail


class _MultipartReader:
    """Feeds the streaming parser and enforces every limit as bytes arrive."""

    def __init__(
        self,
        boundary: bytes,
        limits: FormLimits,
        spool_dir: Path,
        wanted: frozenset[str],
        form: ParsedForm,
    ):
        self.limits = limits
        self.spool_dir = spool_dir
        self.wanted = wanted
        self.form = form
        self.parts = 0
        self.files = 0
        self.ended = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.name = ""
        self.text: bytearray | None = None
        self.file: FilePart | None = None
        self.sink: BinaryIO | None = None
        self.boundary = boundary

    async def read(self, request: Request) -> None:
        received = 0
        try:
            parser = MultipartParser(self.boundary, self._callbacks())
            async for chunk in _stream(request):
                received += len(chunk)
                if received > self.limits.max_body_bytes:
                    raise _PartRefused(
                        self.limits.too_large_status,
                        "The request body is larger than this call accepts.",
                    )
                parser.write(chunk)
            parser.finalize()
        except _PartRefused as refusal:
            raise HTTPException(refusal.status, refusal.detail) from None
        except FormParserError as exc:
            logger.debug("malformed multipart body: %s", exc)
            raise HTTPException(400, "The multipart body is malformed.") from None
        finally:
            self._close_sink()
        if not self.ended:
            raise HTTPException(400, "The multipart body ended before its closing boundary.")

    def _callbacks(self) -> Any:
        return {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_end": self._on_end,
        }

    def _on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise _PartRefused(
                self.limits.too_large_status,
                f"The form has more than {self.limits.max_parts} parts.",
            )
        self.headers = []
        self.text = None
        self.file = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _on_header_end(self) -> None:
        self.headers.append((bytes(self.header_name).strip().lower(), bytes(self.header_value)))
        self.header_name = bytearray()
        self.header_value = bytearray()

    def _on_headers_finished(self) -> None:
        found = dict(self.headers)
        disposition = found.get(b"content-disposition")
        if disposition is None:
            raise _PartRefused(400, "A form part has no Content-Disposition header.")
        _kind, params = parse_content_disposition(disposition)
        if "name" not in params:
            raise _PartRefused(400, "A form part's Content-Disposition has no name.")
        self.name = params["name"]
        filename = filename_from(params)
        if filename is None:
            self._start_text()
        else:
            self._start_file(filename, found.get(b"content-type"))

    def _start_text(self) -> None:
        if self.name in self.wanted:
            self.text = bytearray()

    def _start_file(self, filename: str, declared: bytes | None) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise _PartRefused(
                self.limits.too_large_status,
                f"The form has more than {self.limits.max_files} files.",
            )
        if self.name not in self.wanted:
            return
        path = self.spool_dir / f"{uuid.uuid4().hex}.part"
        self.form.spooled.append(path)
        self.sink = path.open("wb")
        content_type = _decode_header(declared).split(";")[0].strip().lower() if declared else None
        self.file = FilePart(self.name, filename, content_type, path)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is not None and self.sink is not None:
            self.file.size += end - start
            if self.file.size > self.limits.max_file_bytes:
                raise _PartRefused(
                    self.limits.too_large_status,
                    f"File {self.file.filename!r} is larger than {self.limits.file_limit_text}.",
                )
            self.sink.write(data[start:end])
        elif self.text is not None:
            self.text += data[start:end]
            if len(self.text) > self.limits.max_field_bytes:
                raise _PartRefused(
                    self.limits.too_large_status,
                    f"Field {self.name!r} is longer than {self.limits.max_field_bytes} bytes.",
                )

    def _on_part_end(self) -> None:
        if self.file is not None:
            self._close_sink()
            self.form.items.append((self.name, self.file))
        elif self.text is not None:
            self.form.items.append((self.name, self._decoded_text()))

    def _decoded_text(self) -> str:
        assert self.text is not None
        try:
            return self.text.decode("utf-8")
        except UnicodeDecodeError:
            raise validation_error(
                self.name,
                "string_unicode",
                "Input should be a valid string, unable to parse raw data as a unicode string",
                None,
            ) from None

    def _on_end(self) -> None:
        self.ended = True

    def _close_sink(self) -> None:
        if self.sink is not None:
            self.sink.close()
            self.sink = None

