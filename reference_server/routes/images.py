"""The six gallery calls under /api/v1/storage."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import TypeAdapter, ValidationError

from reference_server.config import ServerConfig
from reference_server.deps import Parts, User
from reference_server.forms import read_form, validation_error
from reference_server.models import ErrorBody, FileBase, OrderIn, StretchResponse, file_base_json
from reference_server.storage import KEEP, ImageRecord, NewFile, OrderRefused
from reference_server.uploads import check_upload, form_limits, stored_title

# Only documents the scheme in /openapi.json; the auth middleware does the checking.
_bearer = HTTPBearer(auto_error=False)
_UUID = TypeAdapter(UUID)
_SEQ_ID = re.compile(r"img-(\d+)")
# More than one `file` part is allowed; like FastAPI, the last one counts.
_SINGLE_FILE_PARTS = 4
_FILE = {"type": "string", "format": "binary"}
_TITLE = {"type": "string"}

router = APIRouter(
    prefix="/api/v1/storage",
    tags=["images"],
    dependencies=[Security(_bearer)],
    responses={401: {"model": ErrorBody, "description": "Missing or unknown bearer token"}},
)

ImageId = Annotated[str, Path(json_schema_extra={"format": "uuid"})]


def _form_body(
    properties: dict[str, Any], required: list[str], urlencoded: bool = False
) -> dict[str, Any]:
    """The request body for /openapi.json: these routes read their forms themselves."""
    content = {"multipart/form-data": {"schema": _object(properties, required)}}
    if urlencoded:
        text_only = {name: kind for name, kind in properties.items() if kind is not _FILE}
        content["application/x-www-form-urlencoded"] = {"schema": _object(text_only, [])}
    return {"requestBody": {"required": bool(required), "content": content}}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


@router.post(
    "/image",
    response_model=FileBase,
    openapi_extra=_form_body({"file": _FILE, "title": _TITLE}, ["file"]),
    responses=_refusals(400, 413, 415),
)
async def upload_image(request: Request, user: User, parts: Parts) -> JSONResponse:
    """Upload one PNG or JPEG (at most 20 MB) to the end of the user's gallery."""
    config, store = parts.config, parts.store
    limits = form_limits(config, _SINGLE_FILE_PARTS)
    async with read_form(request, limits, store.spool_dir, frozenset({"file", "title"})) as form:
        upload = form.required_files("file")[-1]
        title = None if config.fault("title_dropped") else form.optional_text("title")
        new = await check_upload(upload, config)
        titles = [stored_title(title, config, new.origin_filename)]
        records = await _store(parts, user, [new], titles)
    return JSONResponse(_present(records[0], request, parts))


@router.post(
    "/images",
    response_model=list[FileBase],
    openapi_extra=_form_body({"files": {"type": "array", "items": _FILE}}, ["files"]),
    responses=_refusals(400, 413, 415),
)
async def upload_images(request: Request, user: User, parts: Parts) -> JSONResponse:
    """Upload several images at once; one bad file refuses the whole batch.

    Under the batch_partly_stored choice the good files are stored and answered instead, and
    only a batch without any good file is refused (with its first file's refusal).
    """
    config, store = parts.config, parts.store
    limits = form_limits(config, config.max_batch_files)
    partly = config.choice("batch_partly_stored")
    async with read_form(request, limits, store.spool_dir, frozenset({"files"})) as form:
        checked: list[NewFile] = []
        refusals: list[Exception] = []
        for upload in form.required_files("files"):
            try:
                checked.append(await check_upload(upload, config))
            except (HTTPException, RequestValidationError) as refusal:
                if partly:
                    refusals.append(refusal)
                    continue
                if checked and config.fault("batch_refused_but_partly_stored"):
                    await _store(parts, user, checked, _untitled(checked, config))
                raise
        if not checked:
            raise refusals[0]
        records = await _store(parts, user, checked, _untitled(checked, config))
    if config.fault("batch_returns_fewer"):
        records = records[:1]
    return JSONResponse([_present(record, request, parts) for record in records])


@router.get("/images", response_model=list[FileBase])
async def list_images(request: Request, user: User, parts: Parts) -> JSONResponse:
    """The user's gallery in its order; [] when empty."""
    if parts.config.fault("hang_on_list"):
        await asyncio.sleep(3600)
    records = await anyio.to_thread.run_sync(parts.store.list_images, user)
    if not records and parts.config.fault("empty_gallery_null"):
        return JSONResponse(None)
    return JSONResponse([_present(record, request, parts) for record in records])


@router.put(
    "/images/order",
    response_model=OrderIn,
    responses=_refusals(400, 413),
)
async def set_images_order(body: OrderIn, user: User, parts: Parts) -> JSONResponse:
    """Reorder the gallery; the list must hold every image ID of the gallery exactly once."""
    try:
        previous = await anyio.to_thread.run_sync(parts.store.set_order, user, body.order)
    except OrderRefused as refusal:
        raise _order_refusal(refusal.detail, parts) from None
    echoed = previous if parts.config.fault("order_wrong_echo") else body.order
    return JSONResponse({"order": [str(image_id) for image_id in echoed]})


@router.put(
    "/image/{image_id}",
    response_model=FileBase,
    openapi_extra=_form_body({"file": _FILE, "title": _TITLE}, [], urlencoded=True),
    responses=_refusals(400, 404, 413, 415),
)
async def update_image(
    image_id: ImageId, request: Request, user: User, parts: Parts
) -> JSONResponse:
    """Change an image's title and/or replace its file; it keeps its ID and place."""
    config, store = parts.config, parts.store
    if config.fault("hang_on_update"):
        await asyncio.sleep(3600)
    record = await _own_image(image_id, user, parts, "update_foreign_image")
    limits = form_limits(config, _SINGLE_FILE_PARTS)
    async with read_form(request, limits, store.spool_dir, frozenset({"file", "title"})) as form:
        upload = form.optional_file("file")
        title = form.optional_text("title")
        new = await check_upload(upload, config) if upload else None
        changed_title = KEEP if title is None else stored_title(title, config)
        updated = await anyio.to_thread.run_sync(store.update_image, record.id, changed_title, new)
    if updated is None:
        raise HTTPException(404, "Image not found.")
    if config.choice("update_answers_empty"):
        return Response(status_code=204)
    if config.choice("update_answers_stretch_response"):
        return JSONResponse({"status": "success"})
    return JSONResponse(_present(updated, request, parts))


@router.delete("/image/{image_id}", response_model=StretchResponse, responses=_refusals(404))
async def delete_image(image_id: ImageId, user: User, parts: Parts) -> JSONResponse:
    """Remove an image from the gallery and its order."""
    record = await _own_image(image_id, user, parts, "delete_foreign_image")
    if not await anyio.to_thread.run_sync(parts.store.delete_image, record.id):
        raise HTTPException(404, "Image not found.")
    status = "deleted" if parts.config.fault("delete_wrong_body") else "success"
    return JSONResponse({"status": status})


async def _store(
    parts: Parts, user: str | None, files: list[NewFile], titles: list[str | None]
) -> list[ImageRecord]:
    if user is None:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return await anyio.to_thread.run_sync(parts.store.add_images, user, files, titles)


def _untitled(files: list[NewFile], config: ServerConfig) -> list[str | None]:
    return [stored_title(None, config, new.origin_filename) for new in files]


def _order_refusal(detail: str, parts: Parts) -> Exception:
    """400 by default; 409, or 422 in FastAPI's shape, under the bad_order_* choices."""
    if parts.config.choice("bad_order_422"):
        return validation_error("order", "value_error", f"Value error, {detail}", None)
    return HTTPException(409 if parts.config.choice("bad_order_409") else 400, detail)


def _present(record: ImageRecord, request: Request, parts: Parts) -> dict[str, Any]:
    image_path = parts.store.image_path(record.id)
    return file_base_json(record, _origin(request), parts.config, image_path)


def _origin(request: Request) -> str:
    """The address the client reached; a Host header cannot point media URLs elsewhere."""
    server = request.scope.get("server")
    if not server:
        return str(request.base_url).rstrip("/")
    host, port = server[0], server[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _own_image(
    raw_id: str, user: str | None, parts: Parts, foreign_fault: str
) -> ImageRecord:
    """The user's image named in the path; another user's image is reported as not found."""
    image_id = await _parse_image_id(raw_id, parts)
    record = await anyio.to_thread.run_sync(parts.store.get_image, image_id)
    if record is None:
        raise HTTPException(404, "Image not found.")
    foreign = user is not None and record.owner != user
    if foreign and not parts.config.fault(foreign_fault):
        if parts.config.choice("foreign_image_403"):
            raise HTTPException(403, "This image belongs to another user.")
        raise HTTPException(404, "Image not found.")
    return record


async def _parse_image_id(raw_id: str, parts: Parts) -> UUID:
    """A UUID from the path, or a 422 in FastAPI's shape."""
    seq_id = _SEQ_ID.fullmatch(raw_id)
    if seq_id and parts.config.fault("id_not_uuid"):
        found = await anyio.to_thread.run_sync(parts.store.id_for_seq, int(seq_id.group(1)))
        if found is None:
            raise HTTPException(404, "Image not found.")
        return found
    if parts.config.fault("crash_on_malformed_id"):
        return UUID(raw_id)
    try:
        return _UUID.validate_python(raw_id)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("path", "image_id")} for error in errors]
        ) from None
