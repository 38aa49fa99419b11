"""Response models (they also document the API in /openapi.json) and how a record becomes one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from reference_server.config import ServerConfig
from reference_server.storage import ImageRecord


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


def file_base_json(record: ImageRecord, origin: str, config: ServerConfig) -> dict[str, Any]:
    """The FileBase body of one image, with the presentation faults applied."""
    body = file_base(record, origin).model_dump(mode="json", by_alias=True)
    if config.fault("id_not_uuid"):
        body["id"] = f"img-{record.seq}"
    if config.fault("filesize_in_kilobytes"):
        body["filesize"] = round(record.filesize / 1024)
    if config.fault("wrong_content_type") and record.content_type == "image/jpeg":
        body["contentType"] = "image/png"
    if config.fault("missing_origin_filename"):
        del body["originFilename"]
    return body
