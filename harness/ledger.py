"""The cleanup ledger: every image the suite creates, until the suite has deleted it.

Entries are appended to a file shared by all processes of a run (pytest-xdist workers), so an
image created by a run that was killed outright is still deleted at the start of the next run.

Each file sent for upload is noted before it leaves (its sha256, size and name). When the answer
never comes (a timeout, a reset, Ctrl-C, a killed process), the image may be stored all the same
with an ID the suite never learnt; the note lets the session's last cleanup recognise it by its
bytes, and only by its bytes, so an image the suite did not create is never touched.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentFile:
    """A file sent for upload as `user`, until the session has settled what became of it."""

    user: str
    size: int
    filename: str | None


class Ledger:
    def __init__(self, path: Path | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._live: dict[str, str] = {}  # image id -> user label
        self._sent: dict[str, SentFile] = {}  # sha256 -> the file sent for upload
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            live, sent = self._replay(path)
            self._live.update(live)
            self._sent.update(sent)

    @staticmethod
    def _replay(path: Path) -> tuple[dict[str, str], dict[str, SentFile]]:
        live: dict[str, str] = {}
        sent: dict[str, SentFile] = {}
        if not path.exists():
            return live, sent
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
            event = entry.get("event")
            if event == "created":
                live[entry["id"]] = entry["user"]
            elif event == "sending":
                sent[entry["sha256"]] = SentFile(entry["user"], entry["size"], entry.get("file"))
            elif event == "settled":
                sent.pop(entry.get("sha256"), None)
            else:
                live.pop(entry.get("id"), None)
        return live, sent

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

    def sending(self, user: str, sha256: str, size: int, filename: str | None) -> None:
        """Note a file about to be sent for upload, before it leaves."""
        with self._lock:
            self._sent[sha256] = SentFile(user, size, filename)
            entry = {"event": "sending", "user": user, "sha256": sha256, "size": size}
            self._append({**entry, "file": filename})

    def settled(self, sha256: str) -> None:
        """The session has looked for an image stored from this file and deleted any it found."""
        with self._lock:
            self._sent.pop(sha256, None)
            self._append({"event": "settled", "sha256": sha256})

    def owns(self, image_id: str) -> bool:
        return image_id in self._live

    def owner(self, image_id: str) -> str | None:
        """The user label the image was created as, or None if the suite did not create it."""
        return self._live.get(image_id)

    def pending(self) -> dict[str, str]:
        """Images created and not yet deleted, across every process of the run."""
        with self._lock:
            if self.path is not None:
                return self._replay(self.path)[0]
            return dict(self._live)

    def unsettled(self) -> dict[str, SentFile]:
        """Files sent for upload and not yet settled (sha256 -> file), across every process."""
        with self._lock:
            if self.path is not None:
                return self._replay(self.path)[1]
            return dict(self._sent)

    def compact(self) -> None:
        """Rewrite the file with only what is still pending (or remove it when nothing is)."""
        if self.path is None:
            return
        with self._lock:
            live, sent = self._replay(self.path)
            if not live and not sent:
                self.path.unlink(missing_ok=True)
                return
            lines = [{"event": "created", "user": u, "id": i} for i, u in live.items()]
            lines += [
                {"event": "sending", "user": sent_file.user, "sha256": sha256,
                 "size": sent_file.size, "file": sent_file.filename}
                for sha256, sent_file in sent.items()
            ]  # fmt: skip
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
            tmp.replace(self.path)
