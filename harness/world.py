"""What one scenario knows: its users, files, images and the answer to its action."""

from __future__ import annotations

import copy
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.api import GalleryApi
from harness.client import Reply
from harness.contract import Contract
from harness.errors import ConformanceFailure, TransportFailure
from harness.expect import expect_equal, expect_success
from harness.payload import FileToSend

log = logging.getLogger(__name__)
USER_LABELS = {"Alice": "A", "Bob": "B"}


@dataclass
class World:
    api: GalleryApi
    contract: Contract
    exclusive: bool  # no other scenario touches the same galleries meanwhile
    users: list[str] = field(default_factory=lambda: ["A"])
    files: dict[str, FileToSend] = field(default_factory=dict)
    last_file: FileToSend | None = None
    images: dict[str, dict] = field(default_factory=dict)  # label -> FileBase as last seen
    last_image: str | None = None
    reply: Reply | None = None  # the answer to the scenario's action
    baseline: dict[str, list[dict]] = field(default_factory=dict)  # galleries before the action
    start: dict[str, list[dict]] = field(default_factory=dict)  # galleries before the scenario
    chosen_order: list[str] = field(default_factory=list)
    download: Reply | None = None
    reordered: bool = False
    sent: FileToSend | None = None  # the file the scenario's action sent
    batch: list[FileToSend] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # image label -> user label
    others: list[str] = field(default_factory=list)  # images set up only to fill the gallery
    _seeds: itertools.count = field(default_factory=lambda: itertools.count(random.randrange(1 << 30)))
    # user -> (api.changes_sent when listed, the listing): the last gallery seen of each user.
    _listed: dict[str, tuple[int, list[dict]]] = field(default_factory=dict)

    def next_seed(self) -> int:
        """A fresh seed, so every image a scenario makes has pixels of its own."""
        return next(self._seeds)

    # Files and images by label.

    def add_file(self, label: str, file: FileToSend) -> FileToSend:
        self.files[label] = file
        self.last_file = file
        return file

    def file(self, label: str | None = None) -> FileToSend:
        if label is None:
            if self.last_file is None:
                raise LookupError("the scenario names 'that file' before preparing any file")
            return self.last_file
        if label not in self.files:
            raise LookupError(f"the scenario never prepared a file {label!r}")
        return self.files[label]

    def sending(self, label: str | None) -> FileToSend:
        """The file the action is about to send, remembered for the checks that follow."""
        self.sent = self.file(label)
        return self.sent

    def add_image(self, label: str, record: dict, user: str = "A", main: bool = True) -> None:
        self.images[label] = record
        self.owners[label] = user
        if main:
            self.last_image = label
        else:
            self.others.append(label)

    def image_of(self, user: str) -> dict:
        """The image the scenario's story is about, among those `user` owns."""
        labels = [label for label, owner in self.owners.items() if owner == user]
        if not labels:
            raise LookupError(f"the scenario set up no image for user {user}")
        mains = [label for label in labels if label not in self.others]
        return self.images[(mains or labels)[-1]]

    def image(self, label: str | None = None) -> dict:
        label = label or self.last_image
        if label not in self.images:
            raise LookupError(f"the scenario has no image {label!r}")
        return self.images[label]

    # Galleries.

    def gallery(self, user: str) -> list[dict]:
        reply = self.api.list_images(user)
        records = expect_success(
            reply, f"user {user}'s gallery can be listed", self.contract.success
        )
        self._listed[user] = (self.api.changes_sent, copy.deepcopy(records))
        return records

    def _gallery_for_bookkeeping(self, user: str) -> list[dict]:
        """The gallery the harness works from: the last listing while it cannot have changed.

        It cannot when no request that may change a gallery was sent since, and no other
        scenario shares the gallery. Then steps always list afresh: this saves only the
        harness's own listings.
        """
        seen = self._listed.get(user)
        if self.exclusive and seen is not None and seen[0] == self.api.changes_sent:
            return copy.deepcopy(seen[1])
        return self.gallery(user)

    def gallery_ids(self, user: str) -> list[str]:
        return [record["id"] for record in self.gallery(user)]

    def begin(self) -> None:
        """Remember the galleries as they were when the scenario started."""
        for user in self.users:
            self.start[user] = self.gallery(user)

    def act(self, action: Callable[[], Reply]) -> Reply:
        """The scenario's When: remember the galleries, then do it and keep the answer."""
        for user in self.users:
            self.baseline[user] = self._gallery_for_bookkeeping(user)
        self.reply = action()
        return self.reply

    # Setting the scene (Given steps): each must succeed, or the scenario cannot be judged.

    def uploaded(
        self, user: str, label: str, file: FileToSend, title: str | None = None, main: bool = True
    ) -> dict:
        reply = self.api.upload(user, file, title)
        record = expect_success(
            reply, f"setting up: uploading {file.describe()} succeeds", self.contract.success
        )
        self.files.setdefault(label, file)
        self.add_image(label, record, user, main)
        if title is not None:
            # A scene set up wrong would make a later step blame the wrong rule.
            expect_equal(
                "setting up: the upload keeps the title it was sent",
                record.get("title"),
                title,
                reply.request,
            )
        return record

    # Cleaning up after the scenario.

    def clean_up(self) -> list[str]:
        """Delete every image this scenario created and put the order back; return problems."""
        problems: list[str] = []
        for user in self.users:
            try:
                self._clean_gallery(user)
            except (ConformanceFailure, TransportFailure) as exc:
                problems.append(f"cleaning up user {user}'s gallery: {exc}")
        return problems

    def _clean_gallery(self, user: str) -> None:
        start = self.start.get(user)
        now = self._gallery_for_bookkeeping(user)
        start_ids = [r["id"] for r in start] if start is not None else None
        for record in now:
            image_id = record["id"]
            owner = self.api.ledger.owner(image_id)
            if owner is not None and owner != user:
                continue  # another user's image wrongly listed here; deleted as its owner
            # With the gallery to ourselves, anything new since the start was made by our requests
            # (a refused batch that still stored files, say) and is ours to remove.
            new = self.exclusive and start_ids is not None and image_id not in start_ids
            if owner is not None or new:
                reply = self.api.delete(user, image_id)
                if reply.status == 404:
                    self.api.ledger.gone(image_id)
        if start_ids and self.reordered:
            wanted = order_to_restore(start_ids, [r["id"] for r in self.gallery(user)])
            if wanted is not None:
                self.api.reorder(user, wanted)


def order_to_restore(before: list[str], current: list[str]) -> list[str] | None:
    """The order that puts the images listed `before` back in their order, or None if they are.

    Images listed now and not before (ones that could not be deleted) keep their places, and
    images no longer listed are left out: only the places the earlier images hold are refilled.
    """
    still_listed = set(current)
    if len(still_listed) != len(current):
        return None  # a list naming an image twice cannot be sent back as an order
    earlier = set(before)
    refill = iter([image_id for image_id in before if image_id in still_listed])
    wanted = [next(refill) if image_id in earlier else image_id for image_id in current]
    return None if wanted == current else wanted
