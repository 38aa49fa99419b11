"""Endpoints for the suite's own use: health and busy time. Not part of the API under test."""

from __future__ import annotations

from fastapi import APIRouter

from reference_server.deps import Parts
from reference_server.models import Health, Stats

router = APIRouter(prefix="/__reference", include_in_schema=False)


@router.get("/health", response_model=Health)
async def get_health() -> Health:
    return Health(status="ok")


@router.get("/stats", response_model=Stats)
async def get_stats(parts: Parts) -> Stats:
    """Seconds spent handling API and media requests so far, and how many there were."""
    return Stats(busy_seconds=parts.stats.busy_seconds, requests=parts.stats.requests)
