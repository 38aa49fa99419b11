"""Steps about the gallery as a whole: what is listed, and in which order."""

from __future__ import annotations

import uuid

import pytest
from pytest_bdd import given, parsers, then, when

from harness.errors import GalleryMismatch
from harness.expect import expect_equal, expect_same_gallery, expect_success
from harness.world import USER_LABELS, World

# How each wrong order is built from the gallery's IDs (at least three of them).
WRONG_ORDERS = {
    "misses one image": lambda ids: ids[:-1],
    "names one image twice and misses another": lambda ids: [ids[0], ids[0], *ids[2:]],
    "names every image and one of them twice": lambda ids: [*ids, ids[0]],
    "names an image that does not exist": lambda ids: [*ids, str(uuid.uuid4())],
    "is empty": lambda ids: [],
}


# Setting the scene.


@given(parsers.parse("{user}'s gallery is empty"))
def _(world: World, user: str):
    records = world.gallery(USER_LABELS[user])
    if records:
        pytest.skip(
            f"{user}'s gallery holds {len(records)} image(s) this suite did not create; "
            "an empty gallery cannot be checked with this account"
        )


@given(parsers.parse("{user} has put her gallery in reverse order"))
def _(world: World, user: str):
    label = USER_LABELS[user]
    order = list(reversed(world.gallery_ids(label)))
    world.reordered = True
    reply = world.api.reorder(label, order)
    expect_success(reply, "setting up: reordering the gallery succeeds", world.contract.success)
    world.chosen_order = order


# Actions.


@when(parsers.parse("{user} lists her gallery"))
def _(world: World, user: str):
    world.act(lambda: world.api.list_images(USER_LABELS[user]))


@when(parsers.parse("{user} orders her gallery in reverse"))
def _(world: World, user: str):
    label = USER_LABELS[user]
    world.chosen_order = list(reversed(world.gallery_ids(label)))
    world.reordered = True
    world.act(lambda: world.api.reorder(label, world.chosen_order))


@when(parsers.parse("{user} orders her gallery with a list that {problem}"))
def _(world: World, user: str, problem: str):
    label = USER_LABELS[user]
    if problem.startswith("holds "):
        bad = problem.split('"')[1]
        ids = world.gallery_ids(label)
        order = [bad, *ids[1:]]
    else:
        order = WRONG_ORDERS[problem](world.gallery_ids(label))
    world.reordered = True
    world.act(lambda: world.api.reorder(label, order))


@when(parsers.parse("{user} orders her gallery with her images and Bob's image"))
def _(world: World, user: str):
    label = USER_LABELS[user]
    order = [*world.gallery_ids(label), world.image_of("B")["id"]]
    world.reordered = True
    world.act(lambda: world.api.reorder(label, order))


# Outcomes.


@then("the list is empty")
def _(world: World):
    records = expect_success(world.reply, "listing the gallery succeeds", world.contract.success)
    expect_equal("an empty gallery is listed as []", records, [], world.reply.request)


@then(parsers.parse("the images are listed in the order {user} chose"))
def _(world: World, user: str):
    records = expect_success(world.reply, "listing the gallery succeeds", world.contract.success)
    expect_equal(
        "the list follows the order last set",
        [r["id"] for r in records],
        world.chosen_order,
        world.reply.request,
        GalleryMismatch,
    )


@then("the new image is listed where the contract says new uploads land")
def _(world: World):
    before = [r["id"] for r in world.baseline["A"]]
    new_id = world.image()["id"]
    now = world.gallery_ids("A")
    places = {"start": [new_id, *before], "end": [*before, new_id]}
    allowed = [places[p] for p in ("start", "end")
               if world.contract.new_upload_position in (p, "either")]  # fmt: skip
    if now not in allowed:
        raise GalleryMismatch(
            "a new upload lands where the contract says (gallery.new_upload_position = "
            f"{world.contract.new_upload_position!r})",
            now,
            " or ".join(str(a) for a in allowed),
            world.reply.request,
        )


@then(parsers.parse("{user}'s gallery lists the image"))
def _(world: World, user: str):
    record = world.image()
    listed = {r["id"]: r for r in world.gallery(USER_LABELS[user])}
    if record["id"] not in listed:
        raise GalleryMismatch(
            "the uploaded image is listed in the gallery",
            f"{len(listed)} images, none with id {record['id']}",
            f"an image with id {record['id']}",
            world.reply.request,
        )
    expect_same_gallery(
        "the listed image describes what the upload answered",
        [listed[record["id"]]],
        [record],
        world.reply.request,
    )


@then("the answer echoes the new order as an OrderIn")
def _(world: World):
    body = expect_success(world.reply, "reordering succeeds", world.contract.success)
    expect_equal(
        "the answer echoes the order sent", body["order"], world.chosen_order, world.reply.request
    )


@then(parsers.parse("{user}'s gallery is listed in the new order"))
def _(world: World, user: str):
    expect_success(world.reply, "reordering succeeds", world.contract.success)
    expect_equal(
        "after reordering, the gallery is listed in the new order",
        world.gallery_ids(USER_LABELS[user]),
        world.chosen_order,
        world.reply.request,
        GalleryMismatch,
    )


@then(parsers.parse("{user}'s gallery order is unchanged"))
def _(world: World, user: str):
    label = USER_LABELS[user]
    expect_equal(
        "a refused order leaves the gallery's order as it was",
        world.gallery_ids(label),
        [r["id"] for r in world.baseline[label]],
        world.reply.request,
        GalleryMismatch,
    )


@then(parsers.parse("{user}'s gallery is unchanged"))
def _(world: World, user: str):
    label = USER_LABELS[user]
    expect_same_gallery(
        f"{user}'s gallery is as it was before the request",
        world.gallery(label),
        world.baseline[label],
        world.reply.request,
    )


@then(parsers.parse("{owner}'s image is not listed"))
def _(world: World, owner: str):
    records = expect_success(world.reply, "listing the gallery succeeds", world.contract.success)
    foreign = world.image_of(USER_LABELS[owner])["id"]
    if foreign in [r["id"] for r in records]:
        raise GalleryMismatch(
            f"{owner}'s image never appears in another user's list",
            f"{owner}'s image {foreign} listed",
            "not listed",
            world.reply.request,
        )


@then(parsers.parse("{owner}'s image is listed"))
def _(world: World, owner: str):
    records = expect_success(world.reply, "listing the gallery succeeds", world.contract.success)
    own = world.image_of(USER_LABELS[owner])["id"]
    if own not in [r["id"] for r in records]:
        raise GalleryMismatch(
            f"{owner}'s own image is listed", f"{own} missing", "listed", world.reply.request
        )
