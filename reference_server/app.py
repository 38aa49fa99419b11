"""The reference server's FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from reference_server.config import ServerConfig
from reference_server.deps import ServerParts
from reference_server.middleware import (
    BearerAuthMiddleware,
    BodyCapMiddleware,
    BusyStats,
    BusyTimeMiddleware,
)
from reference_server.models import error_body
from reference_server.routes import images, media, reference
from reference_server.storage import GalleryStore

logger = logging.getLogger(__name__)

# An order of thousands of UUIDs is well under this.
_JSON_BODY_BYTES = 1_048_576


def create_app(config: ServerConfig) -> FastAPI:
    """Build the app; it owns a GalleryStore on `config.data_dir` until shutdown."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = GalleryStore(config.data_dir, config.fault, config.choice)
    parts = ServerParts(config, store, BusyStats())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        parts.store.close()

    app = FastAPI(
        title="Stretch gallery reference server",
        summary="A correct implementation of the gallery storage API, for the conformance suite.",
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.parts = parts
    for router in (images.router, media.router, reference.router):
        app.include_router(router)
    app.add_exception_handler(RequestValidationError, _validation_handler(config))
    app.add_exception_handler(StarletteHTTPException, _refusal_handler(config))
    app.add_exception_handler(Exception, _last_guard)
    # Middleware runs before routing, so a request's token is settled before any route reads
    # its body; the one added last (busy time) wraps everything.
    app.add_middleware(BodyCapMiddleware, max_bytes=_JSON_BODY_BYTES, config=config)
    app.add_middleware(BearerAuthMiddleware, config=config)
    app.add_middleware(BusyTimeMiddleware, stats=parts.stats)
    return app


def _validation_handler(
    config: ServerConfig,
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        if config.fault("validation_error_wrong_shape"):
            return JSONResponse({"detail": "invalid"}, status_code=422)
        assert isinstance(exc, RequestValidationError)
        return await request_validation_exception_handler(request, exc)

    return handle


def _refusal_handler(
    config: ServerConfig,
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not config.choice("error_body_message") or not isinstance(exc.detail, str):
            return await http_exception_handler(request, exc)
        body = error_body(exc.detail, exc.status_code, config)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    return handle


async def _last_guard(request: Request, exc: Exception) -> Response:
    """Only reached by a bug (or the crash_on_malformed_id fault): still a JSON answer."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    config: ServerConfig = request.app.state.parts.config
    return JSONResponse(error_body("Internal server error", 500, config), status_code=500)
