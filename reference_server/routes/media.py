"""Image bytes and thumbnails, served without a token under unguessable UUID paths.

Under the media_needs_token choice only the uploader's bearer token fetches them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from reference_server.deps import Parts
from reference_server.imaging import reencode
from reference_server.middleware import bearer_token, unauthenticated, user_for_token
from reference_server.models import ErrorBody
from reference_server.storage import ImageRecord

router = APIRouter(prefix="/media", tags=["media"], responses={404: {"model": ErrorBody}})
_CHUNK = 64 * 1024


@router.get("/{image_id}", response_class=Response)
async def get_image_file(image_id: UUID, request: Request, parts: Parts) -> Response:
    """The exact bytes that were uploaded, with their image type."""
    record = await anyio.to_thread.run_sync(parts.store.get_image, image_id)
    if record is None:
        raise HTTPException(404, "Image not found.")
    if not _may_fetch(record, request, parts):
        return _refusal(request, parts)
    path = parts.store.image_path(image_id)
    if parts.config.fault("url_serves_other_bytes"):
        try:
            content = await anyio.to_thread.run_sync(reencode, path)
        except FileNotFoundError:
            raise HTTPException(404, "Image not found.") from None
        return Response(content, media_type=record.content_type)
    return _stream_file(path, record.content_type)


@router.get("/{image_id}/thumb", response_class=Response)
async def get_image_thumb(image_id: UUID, request: Request, parts: Parts) -> Response:
    """A thumbnail of at most 256 x 256 pixels (PNG, or JPEG for JPEG images)."""
    record = await anyio.to_thread.run_sync(parts.store.get_image, image_id)
    if record is None:
        raise HTTPException(404, "Image not found.")
    if not _may_fetch(record, request, parts):
        return _refusal(request, parts)
    if parts.config.fault("thumb_not_image"):
        return PlainTextResponse("thumbnail")
    return _stream_file(parts.store.thumb_path(image_id), record.thumb_type)


def _refusal(request: Request, parts: Parts) -> Response:
    detail = "Only the uploader's bearer token fetches this image."
    return unauthenticated(parts.config, bearer_token(request.scope), detail)


def _may_fetch(record: ImageRecord, request: Request, parts: Parts) -> bool:
    if not parts.config.choice("media_needs_token"):
        return True
    return user_for_token(parts.config, bearer_token(request.scope)) == record.owner


def _stream_file(path: Path, media_type: str) -> Response:
    # Opened here, not when the answer starts, so a concurrent delete is a clean 404.
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise HTTPException(404, "Image not found.") from None
    size = os.fstat(handle.fileno()).st_size
    return StreamingResponse(
        _chunks(handle), media_type=media_type, headers={"Content-Length": str(size)}
    )


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk
