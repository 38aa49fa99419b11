"""One run of the suite against one target: start-up, preflight, snapshot, and final cleanup."""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.api import GalleryApi
from harness.client import ApiClient, Reply
from harness.config import ROOT, Settings
from harness.errors import ConformanceFailure, TransportFailure
from harness.exchange import Exchange
from harness.expect import expect_same_gallery, expect_status
from harness.ledger import Ledger, OrderNotes, SentFile
from harness.payload import FileToSend
from harness.schemas import SchemaBook
from harness.world import order_to_restore

log = logging.getLogger(__name__)
STATE_DIR = ROOT / ".cache" / "state"
PREFLIGHT_TIMEOUT = 10.0
USERS = {"A": "STRETCH_TOKEN", "B": "STRETCH_TOKEN_B"}


def target_key(base_url: str) -> str:
    """A short name for one target, shared by its ledger and its gallery lock."""
    return hashlib.sha256(base_url.encode()).hexdigest()[:12]


def ledger_path(base_url: str) -> Path:
    """Where the cleanup ledger of runs against this target lives."""
    return STATE_DIR / f"ledger-{target_key(base_url)}.jsonl"


class PreflightError(Exception):
    """The target cannot be tested at all; the run stops with this one message."""


@dataclass
class SuiteSession:
    settings: Settings
    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    server: object = None  # reference_server.launcher.RunningServer when embedded
    data_dir: Path | None = None
    ledger: Ledger = field(default_factory=Ledger)
    book: SchemaBook | None = None
    client: ApiClient | None = None
    snapshot: dict[str, list[dict]] = field(default_factory=dict)
    limit_reading: str | None = None  # "decimal" or "binary", once known
    # (kind, size) -> boundary file, made once per session; its digest is computed once too.
    boundary_files: dict[tuple[str, int], FileToSend] = field(default_factory=dict)
    deletions: list[str] = field(default_factory=list)  # images the run's own cleanup deleted

    @property
    def target_key(self) -> str:
        return target_key(self.base_url)

    @property
    def has_user_b(self) -> bool:
        return "B" in self.tokens

    def start(self) -> None:
        """Start the embedded server when no target is set, then open the client."""
        settings = self.settings
        self.book = SchemaBook(settings.contract)
        if settings.embedded:
            self._start_embedded()
        else:
            self.base_url = settings.base_url
            self.tokens = {"A": settings.token_a}
            if settings.token_b:
                self.tokens["B"] = settings.token_b
            self.ledger = Ledger(ledger_path(self.base_url))
        self.client = ApiClient(self.base_url, self.tokens, settings.timeout)
        self.client.before_send.append(self._note_upload)

    def _start_embedded(self) -> None:
        from reference_server.launcher import start_server

        # Tokens given in the environment are used as they are, so a run can be audited for them.
        self.tokens = {
            "A": self.settings.token_a or secrets.token_urlsafe(24),
            "B": self.settings.token_b or secrets.token_urlsafe(24),
        }
        self.data_dir = Path(tempfile.mkdtemp(prefix="stretch-embedded-"))
        try:
            self.server = start_server(
                self.data_dir, {self.tokens["A"]: "alice", self.tokens["B"]: "bob"}
            )
        except Exception as exc:
            raise PreflightError(f"the embedded reference server did not start: {exc}") from exc
        self.base_url = self.server.base_url
        log.info("embedded reference server at %s", self.base_url)

    def api(self) -> GalleryApi:
        return GalleryApi(self.client, self.book, self.settings.contract, self.ledger)

    def preflight(self) -> None:
        """The target answers and accepts every configured token, within a short wait."""
        wait = min(self.settings.timeout, PREFLIGHT_TIMEOUT)
        source = "STRETCH_TIMEOUT" if wait == self.settings.timeout else "the preflight's limit"
        probe = ApiClient(self.base_url, self.tokens, wait, source)
        api = GalleryApi(probe, self.book, self.settings.contract, Ledger())
        try:
            for user in self.tokens:
                reply = api.list_images(user)
                if reply.status in (401, 403):
                    raise PreflightError(
                        f"the target at {self.base_url} refused {USERS[user]} "
                        f"({reply.status}); check the token"
                    )
                expect_status(reply, self.settings.contract.success, "preflight: listing works")
        except TransportFailure as exc:
            raise PreflightError(
                f"the target at {self.base_url} did not answer: {exc.reason}"
            ) from None
        except ConformanceFailure as exc:
            raise PreflightError(f"the target at {self.base_url} is not usable: {exc}") from None
        finally:
            probe.close()

    def _note_upload(self, exchange: Exchange) -> None:
        """Before an upload or a new order leaves, note what a lost answer would hide."""
        if exchange.user is None:
            return
        if exchange.method == "PUT" and exchange.url == self.client.url("storage/images/order"):
            body = exchange.json_body if isinstance(exchange.json_body, dict) else {}
            order = body.get("order")
            if isinstance(order, list) and all(isinstance(i, str) for i in order):
                self.ledger.order_sent(exchange.user, order)
        if exchange.method != "POST":
            return
        for part in exchange.parts:
            if part.sha256 is not None:
                self.ledger.sending(exchange.user, part.sha256, part.size, part.filename)

    def clean_leftovers(self) -> list[str]:
        """Undo what an earlier, killed run could not: its images, and orders it changed."""
        problems = self._delete_pending("left by an earlier run")
        problems += self._delete_unanswered(set(self.ledger.pending()))
        problems += self._put_back_orders()
        self.ledger.compact()
        return problems

    def take_snapshot(self) -> None:
        api = self.api()
        for user in self.tokens:
            self.snapshot[user] = _records(api.list_images(user))
            self.ledger.order_at_start(user, [record["id"] for record in self.snapshot[user]])

    def finish(self) -> list[str]:
        """Delete what is left, put the order back, compare with the snapshot; return problems."""
        problems = self._delete_pending("left behind by this run")
        if self.snapshot:
            kept = {record["id"] for records in self.snapshot.values() for record in records}
            problems += self._delete_unanswered(kept | set(self.ledger.pending()))
            problems += self._compare_with_snapshot()
        # Also when nothing was pending: the file would otherwise grow by every run's entries.
        self.ledger.compact()
        return problems

    def _compare_with_snapshot(self) -> list[str]:
        problems = []
        api = self.api()
        for user, before in self.snapshot.items():
            try:
                now = _records(api.list_images(user))
                wanted = order_to_restore([r["id"] for r in before], [r["id"] for r in now])
                if wanted is not None:
                    api.reorder(user, wanted)
                    now = _records(api.list_images(user))
                if order_to_restore([r["id"] for r in before], [r["id"] for r in now]) is None:
                    self.ledger.orders_settled(user)
                expect_same_gallery(
                    f"user {user}'s gallery at the end of the run equals the one at its start",
                    now,
                    before,
                    f"GET {self.base_url}/storage/images",
                )
            except (ConformanceFailure, TransportFailure) as exc:
                problems.append(str(exc))
        return problems

    def _put_back_orders(self) -> list[str]:
        problems = []
        for user, notes in self.ledger.orders().items():
            if user not in self.tokens:
                continue
            try:
                problem = self._put_back_order(user, notes)
            except (ConformanceFailure, TransportFailure) as exc:
                problems.append(f"putting back user {user}'s order, left by an earlier run: {exc}")
                continue
            if problem:
                problems.append(problem)
            self.ledger.orders_settled(user)
        return problems

    def _put_back_order(self, user: str, notes: OrderNotes) -> str | None:
        """Put the order an earlier run found back, if the gallery is still in one it set."""
        api = self.api()
        current = [record["id"] for record in self._listing(api, user)]
        wanted = order_to_restore(notes.start or [], current)
        if notes.start is None or wanted is None:
            return None
        # Someone may have arranged the gallery since; only an order this suite set is undone.
        known = set(notes.start)
        now_known = [i for i in current if i in known]
        if not any([i for i in sent if i in known] == now_known for sent in notes.sent):
            return (
                f"user {user}'s gallery is not in the order an earlier run found, nor in one it "
                "set; it is left as it is"
            )
        expect_status(
            api.reorder(user, wanted),
            self.settings.contract.success,
            f"putting back user {user}'s gallery order",
        )
        log.warning("put user %s's gallery back in the order an earlier run found it in", user)
        return None

    def _delete_pending(self, why: str) -> list[str]:
        problems = []
        pending = self.ledger.pending()
        if not pending or self.client is None:
            return problems
        api = self.api()
        for image_id, user in pending.items():
            if user not in self.tokens:
                continue
            try:
                reply = api.delete(user, image_id)
            except TransportFailure as exc:
                problems.append(f"could not delete image {image_id} ({why}): {exc}")
                continue
            if reply.status == 404:
                self.ledger.gone(image_id)
            elif 200 <= reply.status < 300:
                # On a shared account every deletion is worth a line, not only the failed ones.
                self.deletions.append(f"deleted image {image_id} of user {user} ({why})")
            else:
                problems.append(
                    f"could not delete image {image_id} ({why}): {reply.excerpt()}"
                )
        return problems

    def _delete_unanswered(self, known: set[str]) -> list[str]:
        """Delete images stored from uploads whose answer never came, known by their bytes."""
        problems = []
        sent = self.ledger.unsettled()
        for user in sorted({sent_file.user for sent_file in sent.values()} & self.tokens.keys()):
            mine = {sha256: f for sha256, f in sent.items() if f.user == user}
            try:
                self._delete_lost_uploads(user, mine, known)
            except (ConformanceFailure, TransportFailure) as exc:
                problems.append(f"looking for images of uploads that got no answer: {exc}")
                continue
            for sha256 in mine:
                self.ledger.settled(sha256)
        return problems

    def _delete_lost_uploads(self, user: str, sent: dict[str, SentFile], known: set[str]) -> None:
        api = self.api()
        records = self._listing(api, user)
        sizes = {sent_file.size for sent_file in sent.values()}
        names = {sent_file.filename for sent_file in sent.values()}
        for record in records:
            # Only an image the run cannot account for, whose size or name fits, is fetched; only
            # one whose bytes are a file this suite sent is deleted.
            fits = record.get("filesize") in sizes or record.get("originFilename") in names
            if record["id"] in known or not fits or not record.get("url"):
                continue
            media = api.fetch_media(record["url"], user)
            if media.status != 200 or hashlib.sha256(media.body).hexdigest() not in sent:
                continue
            expect_status(
                api.delete(user, record["id"]),
                self.settings.contract.success,
                f"deleting image {record['id']}, stored from an upload that got no answer",
            )
            log.warning(
                "deleted image %s of user %s: stored from an upload that got no answer",
                record["id"],
                user,
            )

    def _listing(self, api: GalleryApi, user: str) -> list[dict]:
        reply = api.list_images(user)
        expect_status(reply, self.settings.contract.success, f"user {user}'s gallery is listed")
        return _records(reply)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _records(listing: Reply) -> list[dict]:
    """A listing's records. A body that is no JSON list (a server bug the scenarios report)
    counts as an empty gallery, so the session's own bookkeeping never crashes on it."""
    try:
        body = listing.json()
    except ValueError:
        return []
    return body if isinstance(body, list) else []


PROBE_EXTRA = 1  # bytes past the decimal limit that tell the two readings of "MB" apart


def size_limit(suite: SuiteSession, api: GalleryApi) -> int:
    """The size limit in bytes, finding out once per process which reading the server uses."""
    contract = suite.settings.contract
    if contract.megabyte != "auto":
        return contract.limit_bytes(contract.megabyte)
    if suite.limit_reading is None:
        suite.limit_reading = _probe_reading(suite, api)
    return contract.limit_bytes(suite.limit_reading)


def _probe_reading(suite: SuiteSession, api: GalleryApi) -> str:
    contract = suite.settings.contract
    size = contract.limit_bytes("decimal") + PROBE_EXTRA
    probe = boundary_file(suite, "png", size)
    reply = api.upload("A", probe)
    if 200 <= reply.status < 300:
        image_id = reply.json().get("id") if isinstance(reply.json(), dict) else None
        if image_id:
            api.delete("A", image_id)
        log.info("the server reads MB as 1,048,576 bytes (it accepted %d bytes)", size)
        return "binary"
    if reply.status in contract.refusal("too_large"):
        log.info("the server reads MB as 1,000,000 bytes (it refused %d bytes)", size)
        return "decimal"
    raise ConformanceFailure(
        f"finding the size limit: an upload of {size} bytes is either stored (20 MB read as "
        "20 x 1,048,576 bytes) or refused as too large (read as 20 x 1,000,000 bytes)",
        reply.excerpt(),
        f"a success, or a refusal with status {contract.refusal('too_large')}",
        reply.request,
    )


def boundary_file(suite: SuiteSession, kind: str, size: int) -> FileToSend:
    """A real PNG or JPEG of exactly `size` bytes, made once per session.

    Its bytes are a few padding blocks repeated: they are streamed from those pieces, never
    joined in memory nor written to disk.
    """
    from harness import images

    made = suite.boundary_files.get((kind, size))
    if made is not None:
        return made
    ext = "png" if kind == "png" else "jpg"
    layout = images.png_layout(size) if kind == "png" else images.jpeg_layout(size)
    content_type = "image/png" if kind == "png" else "image/jpeg"
    made = FileToSend(f"limit-{size}.{ext}", content_type, kind, layout=layout)
    suite.boundary_files[(kind, size)] = made
    return made
