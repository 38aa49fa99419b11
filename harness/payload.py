"""A file the suite sends: its name, declared type, what it really is, and its bytes."""

from __future__ import annotations

import bisect
import hashlib
import io
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO

from harness.images import Layout, join_layout, layout_size


@dataclass(frozen=True, eq=False)
class FileToSend:
    filename: str
    content_type: str
    kind: str  # what the bytes really are: "png", "jpeg", "gif", "text", "empty", ...
    data: bytes | None = field(default=None, repr=False)
    # Big files (padded boundary images) are streamed from their pieces, never joined in memory.
    layout: Layout | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.layout is None):
            raise ValueError("FileToSend needs exactly one of data or layout")

    @cached_property
    def size(self) -> int:
        return len(self.data) if self.data is not None else layout_size(self.layout)

    @cached_property
    def sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        digest = hashlib.sha256()
        for piece, count in self.layout:
            for _ in range(count):
                digest.update(piece)
        return digest.hexdigest()

    def content(self) -> bytes | IO[bytes]:
        """What httpx sends: the bytes, or an open stream it reads in blocks."""
        return self.data if self.data is not None else io.BufferedReader(LayoutReader(self.layout))

    def read(self) -> bytes:
        return self.data if self.data is not None else join_layout(self.layout)

    def describe(self) -> str:
        return f"{self.filename!r} ({self.kind}, {self.size} bytes, declared {self.content_type})"


class LayoutReader(io.RawIOBase):
    """A seekable stream over a layout's pieces, so httpx can size it and send it in blocks."""

    def __init__(self, layout: Layout):
        super().__init__()
        runs = [(piece, count) for piece, count in layout if piece and count]
        self._pieces = [piece for piece, _ in runs]
        self._starts: list[int] = []  # where each run begins in the file
        offset = 0
        for piece, count in runs:
            self._starts.append(offset)
            offset += len(piece) * count
        self._size = offset
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Copy from the piece under the current position; a short read ends at its end."""
        if self._position >= self._size or not len(buffer):
            return 0
        run = bisect.bisect_right(self._starts, self._position) - 1
        piece = self._pieces[run]
        at = (self._position - self._starts[run]) % len(piece)
        count = min(len(buffer), len(piece) - at)
        memoryview(buffer)[:count] = memoryview(piece)[at : at + count]
        self._position += count
        return count
