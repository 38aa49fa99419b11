"""Steps about one image: updating it, deleting it, and what it serves afterwards."""

from __future__ import annotations

import uuid

from pytest_bdd import given, parsers, then, when

from harness import images
from harness.errors import GalleryMismatch
from harness.expect import expect_equal, expect_same_gallery, expect_status, expect_success
from harness.world import USER_LABELS, World


def _listed(world: World, user: str, image_id: str) -> dict:
    for record in world.gallery(user):
        if record["id"] == image_id:
            return record
    raise GalleryMismatch(
        "the image is still listed after the request",
        f"no image with id {image_id}",
        f"the image {image_id}",
        world.reply.request,
    )


# Updating.


@when(parsers.parse('{user} updates the image with the title "{title}"'))
def _(world: World, user: str, title: str):
    world.act(lambda: world.api.update(USER_LABELS[user], world.image()["id"], title=title))


@when(parsers.parse('{user} updates the image with the file "{name}"'))
def _(world: World, user: str, name: str):
    file = world.sending(name)
    world.act(lambda: world.api.update(USER_LABELS[user], world.image()["id"], file=file))


@when(parsers.parse('{user} updates the image with the file "{name}" and the title "{title}"'))
def _(world: World, user: str, name: str, title: str):
    file = world.sending(name)
    image_id = world.image()["id"]
    world.act(lambda: world.api.update(USER_LABELS[user], image_id, file=file, title=title))


@when(parsers.parse('{user} updates an image that does not exist with the title "{title}"'))
def _(world: World, user: str, title: str):
    unknown = str(uuid.uuid4())
    world.act(lambda: world.api.update(USER_LABELS[user], unknown, title=title))


@when(parsers.parse('{user} updates the image "{image_id}" with the title "{title}"'))
def _(world: World, user: str, image_id: str, title: str):
    world.act(lambda: world.api.update(USER_LABELS[user], image_id, title=title))


@when(parsers.parse('{user} updates {owner}\'s image with the title "{title}"'))
def _(world: World, user: str, owner: str, title: str):
    image_id = world.image_of(USER_LABELS[owner])["id"]
    world.act(lambda: world.api.update(USER_LABELS[user], image_id, title=title))


@then("the update succeeds")
def _(world: World):
    expect_success(world.reply, "updating the image succeeds", world.contract.update_success)


@then(parsers.parse('{user}\'s gallery lists the image with the title "{title}"'))
def _(world: World, user: str, title: str):
    record = _listed(world, USER_LABELS[user], world.image()["id"])
    expect_equal("the listed image's title", record["title"], title, world.reply.request)


@then(parsers.parse('{user}\'s gallery lists the image as "{name}" with the title "{title}"'))
def _(world: World, user: str, name: str, title: str):
    file = world.file(name)
    record = _listed(world, USER_LABELS[user], world.image()["id"])
    expect_equal(
        f"after the update the listed image describes {name!r}",
        {k: record[k] for k in ("originFilename", "filesize", "contentType", "title")},
        {
            "originFilename": file.filename,
            "filesize": file.size,
            "contentType": record["contentType"]
            if record["contentType"] in world.contract.content_types[file.kind]
            else world.contract.content_types[file.kind][0],
            "title": title,
        },
        world.reply.request,
        GalleryMismatch,
    )


@then(parsers.parse('the image\'s url {still} the bytes of "{name}"'))
def _(world: World, still: str, name: str):
    record = _listed(world, "A", world.image()["id"])
    download = world.api.fetch_media(record["url"], "A")
    expect_status(download, (200,), "the image's url serves it")
    expect_equal(
        f"the image's url serves exactly the bytes of {name!r} (sha256)",
        images.sha256_hex(download.body),
        world.file(name).sha256,
        download.request,
    )


# Deleting.


@given(parsers.parse("{user} has deleted the image"))
def _(world: World, user: str):
    reply = world.api.delete(USER_LABELS[user], world.image()["id"])
    expect_success(reply, "setting up: deleting the image succeeds", world.contract.success)


@when(parsers.parse("{user} deletes the image"))
def _(world: World, user: str):
    world.act(lambda: world.api.delete(USER_LABELS[user], world.image()["id"]))


@when(parsers.parse("{user} deletes an image that does not exist"))
def _(world: World, user: str):
    unknown = str(uuid.uuid4())
    world.act(lambda: world.api.delete(USER_LABELS[user], unknown))


@when(parsers.parse('{user} deletes the image "{image_id}"'))
def _(world: World, user: str, image_id: str):
    world.act(lambda: world.api.delete(USER_LABELS[user], image_id))


@when(parsers.parse("{user} deletes {owner}'s image"))
def _(world: World, user: str, owner: str):
    image_id = world.image_of(USER_LABELS[owner])["id"]
    world.act(lambda: world.api.delete(USER_LABELS[user], image_id))


@then(parsers.parse('the answer is a StretchResponse with the status "{status}"'))
def _(world: World, status: str):
    body = expect_success(world.reply, "deleting the image succeeds", world.contract.success)
    expect_equal("the StretchResponse's status", body.get("status"), status, world.reply.request)


@then(parsers.parse("{user}'s gallery no longer lists the image"))
def _(world: World, user: str):
    expect_success(world.reply, "deleting the image succeeds", world.contract.success)
    gone = world.image()["id"]
    ids = world.gallery_ids(USER_LABELS[user])
    if gone in ids:
        raise GalleryMismatch(
            "a deleted image is no longer listed",
            f"{gone} still listed",
            "not listed",
            world.reply.request,
        )


@then(parsers.parse("{user}'s gallery lists the other images in their previous order"))
def _(world: World, user: str):
    label = USER_LABELS[user]
    expect_success(world.reply, "deleting the image succeeds", world.contract.success)
    gone = world.image()["id"]
    expect_equal(
        "after a delete the other images keep their order",
        world.gallery_ids(label),
        [r["id"] for r in world.baseline[label] if r["id"] != gone],
        world.reply.request,
        GalleryMismatch,
    )


@then(parsers.parse("{owner}'s image is unchanged"))
def _(world: World, owner: str):
    label = USER_LABELS[owner]
    image_id = world.image_of(label)["id"]
    before = [r for r in world.baseline[label] if r["id"] == image_id]
    now = [r for r in world.gallery(label) if r["id"] == image_id]
    expect_same_gallery(f"{owner}'s image is as it was", now, before, world.reply.request)
