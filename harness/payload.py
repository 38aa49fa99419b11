"""A file the suite sends: its name, declared type, what it really is, and its bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO


@dataclass(frozen=True, eq=False)
class FileToSend:
    filename: str
    content_type: str
    kind: str  # what the bytes really are: "png", "jpeg", "gif", "text", "empty", ...
    data: bytes | None = field(default=None, repr=False)
    path: Path | None = None  # big files are streamed from disk instead of held in memory

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("FileToSend needs exactly one of data or path")

    @cached_property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size

    @cached_property
    def sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        digest = hashlib.sha256()
        with self.path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def content(self) -> bytes | IO[bytes]:
        """What httpx sends: the bytes, or an open file it streams from."""
        return self.data if self.data is not None else self.path.open("rb")

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()

    def describe(self) -> str:
        return f"{self.filename!r} ({self.kind}, {self.size} bytes, declared {self.content_type})"
