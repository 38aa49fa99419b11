"""Response models (they also document the API in /openapi.json) and how a record becomes one."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from reference_server.config import ServerConfig
from reference_server.imaging import image_size
from reference_server.storage import ImageRecord

# The `code` member of error bodies under the error_body_message choice.
ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_type",
    500: "internal_error",
}


class FileBase(BaseModel):
    """One image of a gallery, as every image call answers it."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )

    title: str | None
    description: str | None
    content_type: str
    id: UUID
    origin_filename: str
    url: str
    thumb: str
    filesize: int
    status: str


class OrderIn(BaseModel):
    """The wanted gallery order: every image ID of the gallery, once each."""

    order: list[UUID]


class StretchResponse(BaseModel):
    status: str


class ErrorBody(BaseModel):
    """Every refusal other than a validation error."""

    detail: str


class Stats(BaseModel):
    busy_seconds: float
    requests: int


class Health(BaseModel):
    status: str


def file_base(record: ImageRecord, origin: str) -> FileBase:
    media = f"{origin}/media/{record.id}"
    return FileBase(
        title=record.title,
        description=None,
        content_type=record.content_type,
        id=record.id,
        origin_filename=record.origin_filename,
        url=media,
        thumb=f"{media}/thumb",
        filesize=record.filesize,
        status="approved",
    )


def error_body(detail: str, status: int, config: ServerConfig) -> dict[str, Any]:
    """The body of a refusal other than a validation error."""
    body: dict[str, Any] = {"detail": detail}
    if config.choice("error_body_message"):
        body["code"] = ERROR_CODES.get(status, "error")
    return body


def file_base_json(
    record: ImageRecord, origin: str, config: ServerConfig, image_path: Path | None = None
) -> dict[str, Any]:
    """The FileBase body of one image, with the presentation choices and faults applied."""
    media_root = "" if config.choice("relative_media_urls") else origin
    body = file_base(record, media_root).model_dump(mode="json", by_alias=True)
    if config.choice("thumb_null"):
        body["thumb"] = None
    if config.choice("description_empty"):
        body["description"] = ""
    if config.choice("extra_fields"):
        body.update(extra_members(record, image_path))
    if config.fault("id_not_uuid"):
        body["id"] = f"img-{record.seq}"
    if config.fault("filesize_in_kilobytes"):
        body["filesize"] = round(record.filesize / 1024)
    if config.fault("wrong_content_type") and record.content_type == "image/jpeg":
        body["contentType"] = "image/png"
    if config.fault("missing_origin_filename"):
        del body["originFilename"]
    return body


def extra_members(record: ImageRecord, image_path: Path | None) -> dict[str, Any]:
    """Members a server may add to FileBase: when it was stored and the picture's size."""
    width, height = image_size(image_path) if image_path else (None, None)
    return {"createdAt": record.created_at, "width": width, "height": height}
