"""The cleanup ledger: every image the suite creates, until the suite has deleted it.

Entries are appended to a file shared by all processes of a run (pytest-xdist workers), so an
image created by a run that was killed outright is still deleted at the start of the next run.

Each file sent for upload is noted before it leaves (its sha256, size and name). When the answer
never comes (a timeout, a reset, Ctrl-C, a killed process), the image may be stored all the same
with an ID the suite never learnt; the note lets the session's last cleanup recognise it by its
bytes, and only by its bytes, so an image the suite did not create is never touched.

Galleries' orders are noted too: each user's order when the run started, and every order the
suite sends. A run killed before it could put an order back leaves both, and the next run puts
the order back, but only while the gallery is still in an order this suite set.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentFile:
    """A file sent for upload as `user`, until the session has settled what became of it."""

    user: str
    size: int
    filename: str | None


@dataclass
class OrderNotes:
    """A user's gallery order when the run started, and every order the suite sent since."""

    start: list[str] | None = None
    sent: list[list[str]] = field(default_factory=list)


@dataclass
class _State:
    live: dict[str, str] = field(default_factory=dict)  # image id -> user label
    sent: dict[str, SentFile] = field(default_factory=dict)  # sha256 -> file sent for upload
    orders: dict[str, OrderNotes] = field(default_factory=dict)  # user label -> notes

    def apply(self, entry: dict) -> None:
        event = entry.get("event")
        if event == "created":
            self.live[entry["id"]] = entry["user"]
        elif event == "sending":
            self.sent[entry["sha256"]] = SentFile(entry["user"], entry["size"], entry.get("file"))
        elif event == "settled":
            self.sent.pop(entry.get("sha256"), None)
        elif event == "order_at_start":
            self.orders[entry["user"]] = OrderNotes(list(entry["ids"]))
        elif event == "order_sent":
            self.orders.setdefault(entry["user"], OrderNotes()).sent.append(list(entry["ids"]))
        elif event == "orders_settled":
            self.orders.pop(entry.get("user"), None)
        else:
            self.live.pop(entry.get("id"), None)

    def entries(self) -> list[dict]:
        """The fewest entries that replay to this state."""
        lines = [{"event": "created", "user": u, "id": i} for i, u in self.live.items()]
        lines += [
            {"event": "sending", "user": f.user, "sha256": sha256, "size": f.size,
             "file": f.filename}
            for sha256, f in self.sent.items()
        ]  # fmt: skip
        for user, notes in self.orders.items():
            if notes.start is not None:
                lines.append({"event": "order_at_start", "user": user, "ids": notes.start})
            lines += [{"event": "order_sent", "user": user, "ids": ids} for ids in notes.sent]
        return lines


class Ledger:
    def __init__(self, path: Path | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._state = _State()  # what this process wrote, for a ledger without a file
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._state = self._replay(path)

    @staticmethod
    def _replay(path: Path) -> _State:
        state = _State()
        if not path.exists():
            return state
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
            state.apply(entry)
        return state

    def _record(self, entry: dict) -> None:
        with self._lock:
            self._state.apply(entry)
            self._append(entry)

    def _current(self) -> _State:
        """The state across every process of the run (the file), or this process's own."""
        return self._replay(self.path) if self.path is not None else self._state

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
        self._record({"event": "created", "user": user, "id": image_id})

    def gone(self, image_id: str) -> None:
        self._record({"event": "gone", "id": image_id})

    def sending(self, user: str, sha256: str, size: int, filename: str | None) -> None:
        """Note a file about to be sent for upload, before it leaves."""
        entry = {"event": "sending", "user": user, "sha256": sha256, "size": size}
        self._record({**entry, "file": filename})

    def settled(self, sha256: str) -> None:
        """The session has looked for an image stored from this file and deleted any it found."""
        self._record({"event": "settled", "sha256": sha256})

    def order_at_start(self, user: str, ids: list[str]) -> None:
        self._record({"event": "order_at_start", "user": user, "ids": list(ids)})

    def order_sent(self, user: str, ids: list[str]) -> None:
        """Note an order about to be sent, before it leaves."""
        self._record({"event": "order_sent", "user": user, "ids": list(ids)})

    def orders_settled(self, user: str) -> None:
        """The user's gallery is back in the order it had at the start (or left as it is)."""
        self._record({"event": "orders_settled", "user": user})

    def owns(self, image_id: str) -> bool:
        return image_id in self._state.live

    def owner(self, image_id: str) -> str | None:
        """The user label the image was created as, or None if the suite did not create it."""
        return self._state.live.get(image_id)

    def pending(self) -> dict[str, str]:
        """Images created and not yet deleted, across every process of the run."""
        with self._lock:
            return dict(self._current().live)

    def unsettled(self) -> dict[str, SentFile]:
        """Files sent for upload and not yet settled (sha256 -> file), across every process."""
        with self._lock:
            return dict(self._current().sent)

    def orders(self) -> dict[str, OrderNotes]:
        """Order notes not yet settled (user label -> notes), across every process."""
        with self._lock:
            return dict(self._current().orders)

    def compact(self) -> None:
        """Rewrite the file with only what is still open (or remove it when nothing is)."""
        if self.path is None:
            return
        with self._lock:
            lines = self._replay(self.path).entries()
            if not lines:
                self.path.unlink(missing_ok=True)
                return
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
            tmp.replace(self.path)
