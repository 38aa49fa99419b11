"""What the routes depend on: the running server's parts and the authenticated user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from reference_server.config import ServerConfig
from reference_server.middleware import USER_KEY, BusyStats
from reference_server.storage import GalleryStore


@dataclass(frozen=True)
class ServerParts:
    config: ServerConfig
    store: GalleryStore
    stats: BusyStats


def server_parts(request: Request) -> ServerParts:
    return request.app.state.parts


def current_user(request: Request) -> str | None:
    """The user the auth middleware found; None only when a fault let a request through."""
    return request.scope[USER_KEY]


Parts = Annotated[ServerParts, Depends(server_parts)]
User = Annotated[str | None, Depends(current_user)]
