"""Pure ASGI middleware: bearer-token check before any body is read, and busy-time accounting."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_server.config import ServerConfig
from reference_server.models import error_body

API_PREFIX = "/api/v1/"
USER_KEY = "reference_server.user"
# Set instead of a user when a fault lets a request through without a valid token.
ANYONE = None


@dataclass
class BusyStats:
    """Seconds spent handling requests, summed over requests, and how many there were."""

    busy_seconds: float = 0.0
    requests: int = 0


class BusyTimeMiddleware:
    """Sum the time from a request's arrival until its answer is sent (or it is abandoned)."""

    def __init__(self, app: ASGIApp, stats: BusyStats):
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__reference/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.stats.busy_seconds += time.perf_counter() - started
            self.stats.requests += 1


class BearerAuthMiddleware:
    """Refuse /api/v1/ requests without a known bearer token, before anything reads the body."""

    def __init__(self, app: ASGIApp, config: ServerConfig):
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        user = user_for_token(self.config, token)
        if user is None and not self._let_through(scope, token):
            await unauthenticated(self.config, token)(scope, receive, send)
            return
        scope[USER_KEY] = user if user is not None else self._stand_in_user(scope)
        await self.app(scope, receive, send)

    def _let_through(self, scope: Scope, token: str | None) -> bool:
        if self.config.fault("no_token_check_on_delete") and _is_delete(scope):
            return True
        return (
            self.config.fault("wrong_token_accepted_on_list")
            and bool(token)
            and _is_list(scope)
        )

    def _stand_in_user(self, scope: Scope) -> str | None:
        if _is_list(scope):
            users = list(self.config.tokens.values())
            return "alice" if "alice" in users or not users else users[0]
        return ANYONE


class BodyCapMiddleware:
    """Cap the bodies FastAPI reads whole (the order call's JSON); upload forms cap themselves."""

    def __init__(self, app: ASGIApp, max_bytes: int, config: ServerConfig):
        self.app = app
        self.max_bytes = max_bytes
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _reads_own_form(scope):
            await self.app(scope, receive, send)
            return
        detail = f"The request body is larger than {self.max_bytes} bytes."
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            refusal = JSONResponse(error_body(detail, 413, self.config), status_code=413)
            await refusal(scope, receive, send)
            return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # FastAPI passes an HTTPException raised while it reads the body through.
                raise HTTPException(413, detail)
            return message

        await self.app(scope, capped_receive, send)


def _reads_own_form(scope: Scope) -> bool:
    path, method = scope["path"], scope["method"]
    if method == "POST":
        return path in ("/api/v1/storage/image", "/api/v1/storage/images")
    return method == "PUT" and path.startswith("/api/v1/storage/image/")


def user_for_token(config: ServerConfig, token: str | None) -> str | None:
    """The user a bearer token belongs to; None for no token or an unknown one."""
    if not token:
        return None
    found = None
    # Compare against every token so the time taken does not hint at a near miss.
    for known, user in config.tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            found = user
    return found


def unauthenticated(config: ServerConfig, token: str | None, detail: str = "") -> JSONResponse:
    """The refusal of a request without a known token: 401, or 403 under unauthenticated_403."""
    detail = detail or ("Not authenticated" if token is None else "Invalid bearer token")
    if config.choice("unauthenticated_403"):
        return JSONResponse(error_body(detail, 403, config), status_code=403)
    return JSONResponse(
        error_body(detail, 401, config), status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return ""
    return None


def _is_list(scope: Scope) -> bool:
    return scope["method"] == "GET" and scope["path"].rstrip("/") == "/api/v1/storage/images"


def _is_delete(scope: Scope) -> bool:
    return scope["method"] == "DELETE" and scope["path"].startswith("/api/v1/storage/image/")
