"""The cleanup ledger: every image the suite creates, until the suite has deleted it.

Entries are appended to a file shared by all processes of a run (pytest-xdist workers), so an
image created by a run that was killed outright is still deleted at the start of the next run.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Ledger:
    def __init__(self, path: Path | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._live: dict[str, str] = {}  # image id -> user label
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._live.update(self._read(path))

    @staticmethod
    def _read(path: Path) -> dict[str, str]:
        live: dict[str, str] = {}
        if not path.exists():
            return live
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
            if entry.get("event") == "created":
                live[entry["id"]] = entry["user"]
            else:
                live.pop(entry.get("id"), None)
        return live

    def _append(self, entry: dict) -> None:
        if self.path is None:
            return
        # One short write on an O_APPEND descriptor: lines from parallel workers never interleave.
        line = (json.dumps(entry) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # A process killed mid-write leaves a line without its newline: start a fresh line,
            # or this entry would be glued to the cut one and skipped with it.
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
        finally:
            os.close(fd)

    def created(self, user: str, image_id: str) -> None:
        with self._lock:
            self._live[image_id] = user
            self._append({"event": "created", "user": user, "id": image_id})

    def gone(self, image_id: str) -> None:
        with self._lock:
            self._live.pop(image_id, None)
            self._append({"event": "gone", "id": image_id})

    def owns(self, image_id: str) -> bool:
        return image_id in self._live

    def owner(self, image_id: str) -> str | None:
        """The user label the image was created as, or None if the suite did not create it."""
        return self._live.get(image_id)

    def pending(self) -> dict[str, str]:
        """Images created and not yet deleted, across every process of the run."""
        with self._lock:
            if self.path is not None:
                return self._read(self.path)
            return dict(self._live)

    def compact(self) -> None:
        """Rewrite the file with only what is still pending (or remove it when nothing is)."""
        if self.path is None:
            return
        with self._lock:
            live = self._read(self.path)
            if not live:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(
                "".join(
                    json.dumps({"event": "created", "user": u, "id": i}) + "\n"
                    for i, u in live.items()
                ),
                encoding="utf-8",
            )
            tmp.replace(self.path)
