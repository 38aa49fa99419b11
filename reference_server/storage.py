"""Image records and each user's gallery order in SQLite; image bytes and thumbnails as files.

Layout under the data directory: `gallery.sqlite3`, `images/<id>`, `thumbs/<id>` and
`incoming/` (uploads being received; emptied at start). Every change runs under one lock inside
one SQLite transaction, so concurrent uploads and reorders can never lose or repeat an ID.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT,
    content_type TEXT NOT NULL,
    origin_filename TEXT NOT NULL,
    filesize INTEGER NOT NULL,
    thumb_type TEXT NOT NULL,
    created_at TEXT
);
CREATE INDEX IF NOT EXISTS images_by_owner ON images (owner, position);
"""
_COLUMNS = (
    "id, owner, seq, title, content_type, origin_filename, filesize, thumb_type, created_at"
)


@dataclass(frozen=True)
class ImageRecord:
    id: UUID
    owner: str
    seq: int
    title: str | None
    content_type: str
    origin_filename: str
    filesize: int
    thumb_type: str
    created_at: str | None = None  # ISO 8601 UTC; None for rows stored before it was kept


@dataclass(frozen=True)
class NewFile:
    """A checked upload still in the spool directory, with its thumbnail."""

    spooled: Path
    origin_filename: str
    content_type: str
    filesize: int
    thumb: bytes
    thumb_type: str


class OrderRefused(Exception):
    """The requested order is not a permutation of the gallery; `detail` says why."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(detail)


class _Keep:
    """Marker: leave the title as it is."""


KEEP = _Keep()


class GalleryStore:
    """The only code that touches the database and the stored files."""

    def __init__(
        self,
        data_dir: Path,
        fault: Callable[[str], bool],
        choice: Callable[[str], bool] = lambda _name: False,
    ):
        self.fault = fault
        self.choice = choice
        self.images_dir = data_dir / "images"
        self.thumbs_dir = data_dir / "thumbs"
        self.spool_dir = data_dir / "incoming"
        for folder in (self.images_dir, self.thumbs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.spool_dir.mkdir()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            data_dir / "gallery.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(images)")}
        if "created_at" not in columns:
            # A data directory from before the column existed.
            self._db.execute("ALTER TABLE images ADD COLUMN created_at TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def image_path(self, image_id: UUID) -> Path:
        return self.images_dir / str(image_id)

    def thumb_path(self, image_id: UUID) -> Path:
        return self.thumbs_dir / str(image_id)

    def add_images(
        self, owner: str, files: Sequence[NewFile], titles: Sequence[str | None]
    ) -> list[ImageRecord]:
        """Store the files at the end (or start) of the owner's gallery, all or none."""
        moved: list[UUID] = []
        try:
            with self._transaction() as db:
                if self.choice("new_upload_first"):
                    # Make room at the start; the files keep the order they were sent in.
                    db.execute(
                        "UPDATE images SET position = position + ? WHERE owner = ?",
                        (len(files), owner),
                    )
                for index, (new, title) in enumerate(zip(files, titles, strict=True)):
                    image_id = uuid.uuid4()
                    self._place_files(image_id, new)
                    moved.append(image_id)
                    self._insert(db, owner, image_id, new, title, index)
        except BaseException:
            for image_id in moved:
                self._remove_files(image_id)
            raise
        return [self._require(image_id) for image_id in moved]

    def _insert(
        self,
        db: sqlite3.Connection,
        owner: str,
        image_id: UUID,
        new: NewFile,
        title: str | None,
        index: int,
    ) -> None:
        """Insert one image; `index` is its place in the batch being stored."""
        (position,) = db.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM images WHERE owner = ?", (owner,)
        ).fetchone()
        if self.choice("new_upload_first"):
            position = index
        elif self.fault("new_upload_in_middle") and position >= 2:
            (position,) = db.execute(
                "SELECT position FROM images WHERE owner = ? ORDER BY position LIMIT 1 OFFSET 1",
                (owner,),
            ).fetchone()
            db.execute(
                "UPDATE images SET position = position + 1 WHERE owner = ? AND position >= ?",
                (owner, position),
            )
        db.execute(
            "INSERT INTO images (id, owner, position, title, content_type, origin_filename,"
            " filesize, thumb_type, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(image_id), owner, position, title, new.content_type, new.origin_filename,
             new.filesize, new.thumb_type, _now()),
        )

    def _place_files(self, image_id: UUID, new: NewFile) -> None:
        # The spool directory sits on the same file system, so the replace is atomic.
        os.replace(new.spooled, self.image_path(image_id))
        staged = self.spool_dir / f"{image_id}.thumb"
        staged.write_bytes(new.thumb)
        os.replace(staged, self.thumb_path(image_id))

    def _remove_files(self, image_id: UUID) -> None:
        self.image_path(image_id).unlink(missing_ok=True)
        self.thumb_path(image_id).unlink(missing_ok=True)

    def list_images(self, owner: str) -> list[ImageRecord]:
        """The owner's gallery in its order."""
        where = "" if self.fault("list_shows_foreign_images") else "WHERE owner = ?"
        order = "seq" if self.fault("list_ignores_order") else "position, seq"
        params = () if not where else (owner,)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM images {where} ORDER BY {order}", params
            ).fetchall()
        return [_record(row) for row in rows]

    def get_image(self, image_id: UUID) -> ImageRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM images WHERE id = ?", (str(image_id),)
            ).fetchone()
        return _record(row) if row else None

    def _require(self, image_id: UUID) -> ImageRecord:
        record = self.get_image(image_id)
        if record is None:
            raise LookupError(f"image {image_id} vanished while it was being stored")
        return record

    def id_for_seq(self, seq: int) -> UUID | None:
        """The image stored as number `seq` (its upload number)."""
        with self._lock:
            row = self._db.execute("SELECT id FROM images WHERE seq = ?", (seq,)).fetchone()
        return UUID(row[0]) if row else None

    def set_order(self, owner: str, wanted: Sequence[UUID]) -> list[UUID]:
        """Reorder the owner's gallery; return the order it had before."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id FROM images WHERE owner = ? ORDER BY position, seq", (owner,)
            ).fetchall()
            current = [UUID(row[0]) for row in rows]
            problem = self._order_problem(current, wanted)
            if problem:
                raise OrderRefused(problem)
            if not self.fault("order_not_kept"):
                for position, image_id in enumerate(_complete_order(current, wanted)):
                    db.execute(
                        "UPDATE images SET position = ? WHERE id = ?", (position, str(image_id))
                    )
        return current

    def _order_problem(self, current: Sequence[UUID], wanted: Sequence[UUID]) -> str | None:
        repeated = [image_id for image_id, n in Counter(wanted).items() if n > 1]
        if repeated and not self.fault("order_accepts_duplicates"):
            return f"The order names image {repeated[0]} more than once."
        known, listed = set(current), set(wanted)
        unknown = [image_id for image_id in wanted if image_id not in known]
        if unknown and not self.fault("order_accepts_unknown_id"):
            return f"The order names {unknown[0]}, which is not an image of your gallery."
        missing = [image_id for image_id in current if image_id not in listed]
        if missing and not self.fault("order_accepts_partial"):
            shown = ", ".join(str(image_id) for image_id in missing[:3])
            more = "" if len(missing) <= 3 else f" and {len(missing) - 3} more"
            return (
                f"The order must list every image of your gallery exactly once; "
                f"it leaves out {len(missing)}: {shown}{more}."
            )
        return None

    def update_image(
        self, image_id: UUID, title: str | None | _Keep, new: NewFile | None
    ) -> ImageRecord | None:
        """Change the title and/or the file; None when the image is gone."""
        with self._transaction() as db:
            found = db.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone()
            if found is None:
                return None
            if not isinstance(title, _Keep):
                db.execute("UPDATE images SET title = ? WHERE id = ?", (title, str(image_id)))
            if new is not None and not self.fault("update_keeps_old_file"):
                self._place_files(image_id, new)
                db.execute(
                    "UPDATE images SET content_type = ?, origin_filename = ?, filesize = ?,"
                    " thumb_type = ? WHERE id = ?",
                    (new.content_type, new.origin_filename, new.filesize, new.thumb_type,
                     str(image_id)),
                )
        return self.get_image(image_id)

    def delete_image(self, image_id: UUID) -> bool:
        """Remove the image and its place in the order; False when there was none."""
        if self.fault("delete_keeps_image"):
            return self.get_image(image_id) is not None
        with self._transaction() as db:
            gone = db.execute("DELETE FROM images WHERE id = ?", (str(image_id),)).rowcount
            if gone:
                self._remove_files(image_id)
        return bool(gone)


def _complete_order(current: Sequence[UUID], wanted: Sequence[UUID]) -> list[UUID]:
    """The wanted IDs that exist, once each, then (only under faults) the ones left out."""
    known = set(current)
    ordered = [image_id for image_id in dict.fromkeys(wanted) if image_id in known]
    placed = set(ordered)
    return ordered + [image_id for image_id in current if image_id not in placed]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(row: tuple) -> ImageRecord:
    image_id, owner, seq, title, content_type, origin_filename, filesize, thumb_type, created = row
    return ImageRecord(
        UUID(image_id),
        owner,
        seq,
        title,
        content_type,
        origin_filename,
        filesize,
        thumb_type,
        created,
    )
