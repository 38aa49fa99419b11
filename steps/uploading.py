"""Steps about uploading one image or several, and about what an upload reports."""

from __future__ import annotations

from pathlib import PurePath
from uuid import UUID

import pytest
from faker import Faker
from pytest_bdd import given, parsers, then, when

from harness import images
from harness.errors import ConformanceFailure, GalleryMismatch
from harness.expect import (
    expect_equal,
    expect_one_of,
    expect_refusal,
    expect_same_gallery,
    expect_status,
    expect_success,
)
from harness.world import USER_LABELS, World
from steps.files import make_file

_fake = Faker(providers=["faker.providers.file", "faker.providers.lorem"])


# Setting the scene.


@given(parsers.parse('{user} has uploaded a {kind_name} file "{name}"'))
def _(world: World, user: str, kind_name: str, name: str):
    world.uploaded(USER_LABELS[user], name, make_file(world, kind_name, name))


@given(parsers.parse('{user} has uploaded a {kind_name} file "{name}" with the title "{title}"'))
def _(world: World, user: str, kind_name: str, name: str, title: str):
    world.uploaded(USER_LABELS[user], name, make_file(world, kind_name, name), title)


@given(parsers.parse("{user} has uploaded {count:d} {kind_name} files"))
def _(world: World, user: str, count: int, kind_name: str):
    for _n in range(count):
        name = _fake.file_name(extension="png" if kind_name == "PNG" else "jpg")
        title = _fake.sentence(nb_words=3).rstrip(".")
        world.uploaded(USER_LABELS[user], name, make_file(world, kind_name, name), title, main=False)


# Actions.


@when(parsers.parse('{user} uploads "{name}" with the title "{title}"'))
def _(world: World, user: str, name: str, title: str):
    world.act(lambda: world.api.upload(USER_LABELS[user], world.sending(name), title))


@when(parsers.parse('{user} uploads "{name}" without a title'))
def _(world: World, user: str, name: str):
    world.act(lambda: world.api.upload(USER_LABELS[user], world.sending(name)))


@when(parsers.parse("{user} uploads that file without a title"))
def _(world: World, user: str):
    world.act(lambda: world.api.upload(USER_LABELS[user], world.sending(None)))


@when(parsers.parse('{user} uploads no file with the title "{title}"'))
def _(world: World, user: str, title: str):
    world.act(lambda: world.api.upload(USER_LABELS[user], None, title))


@when(parsers.parse('{user} uploads "{first}" and "{second}" together'))
def _(world: World, user: str, first: str, second: str):
    world.batch = [world.file(first), world.file(second)]
    world.act(lambda: world.api.upload_many(USER_LABELS[user], world.batch))


@when(parsers.parse("{user} uploads a batch with no files"))
def _(world: World, user: str):
    world.act(lambda: world.api.upload_many(USER_LABELS[user], []))


# What an upload answers.


@then("the upload succeeds with a FileBase")
def _(world: World):
    file = world.sent
    record = expect_success(
        world.reply, f"uploading {file.describe()} succeeds", world.contract.success
    )
    world.add_image(file.filename, record)


@then(parsers.parse('the image has the title "{title}"'))
def _(world: World, title: str):
    expect_equal(
        "the upload answers the title that was sent", world.image()["title"], title,
        world.reply.request,
    )  # fmt: skip


@then("the image's id is a UUID")
def _(world: World):
    expect_status(world.reply, world.contract.success, "uploading an image succeeds")
    body = world.reply.json()
    image_id = body.get("id") if isinstance(body, dict) else None
    if not _is_uuid(image_id):
        raise ConformanceFailure(
            "the image's id is a UUID (FileBase id: 8-4-4-4-12 hex digits)",
            repr(image_id),
            "a UUID such as '3fa85f64-5717-4562-b3fc-2c963f66afa6'",
            world.reply.request,
        )


def _is_uuid(value: object) -> bool:
    # UUID() also takes braces, "urn:uuid:" and bare hex; a FileBase id is the hyphenated form.
    try:
        return isinstance(value, str) and str(UUID(value)) == value.lower()
    except ValueError:
        return False


@then("the image is untitled as the contract allows")
def _(world: World):
    record = world.image()
    name = record.get("originFilename") or world.sent.filename
    forms = {
        "null": None,
        "empty": "",
        "filename": name,
    }
    allowed = [forms[form] for form in sorted(world.contract.untitled_title)]
    if "filename" in world.contract.untitled_title:
        allowed.append(PurePath(name).stem)
    expect_one_of(
        "an image uploaded without a title is untitled (contract upload.untitled_title)",
        record["title"],
        allowed,
        world.reply.request,
    )


@then(parsers.parse('the image\'s filesize is the size of "{name}"'))
def _(world: World, name: str):
    expect_equal(
        f"the image's filesize is the number of bytes of {name!r}",
        world.image()["filesize"],
        world.file(name).size,
        world.reply.request,
    )


@then("the image's filesize is the size of that file")
def _(world: World):
    expect_equal(
        "the image's filesize is the number of bytes sent",
        world.image()["filesize"],
        world.file().size,
        world.reply.request,
    )


@then(parsers.parse("the image's contentType is that of a {kind_name}"))
def _(world: World, kind_name: str):
    allowed = world.contract.content_types[kind_name.lower()]
    received = world.image()["contentType"]
    expect_one_of(
        f"the image's contentType names what the bytes are ({kind_name})",
        received,
        allowed,
        world.reply.request,
    )


@then("the image's originFilename is exactly that name")
def _(world: World):
    expect_equal(
        "the image's originFilename is the file name sent, character for character",
        world.image()["originFilename"],
        world.file().filename,
        world.reply.request,
    )


@then("the upload is accepted as a PNG or refused as the wrong type, as the contract allows")
def _(world: World):
    choice = world.contract.mismatched_name_with_valid_bytes
    stored = 200 <= world.reply.status < 300
    if choice == "refuse" or (choice == "either" and not stored):
        expect_refusal(world.reply, "wrong_type", world.contract)
        return
    record = expect_success(
        world.reply,
        "PNG bytes under another name are stored (contract upload.mismatched_name_with_valid_bytes)",
        world.contract.success,
    )
    allowed = world.contract.content_types["png"]
    expect_one_of(
        "a stored file's contentType names what its bytes are, not its name",
        record["contentType"],
        allowed,
        world.reply.request,
    )


# Several files at once.


@then("the batch succeeds with one FileBase for each file, in the order sent")
def _(world: World):
    records = expect_success(world.reply, "uploading a batch succeeds", world.contract.success)
    sent = [(f.filename, f.size) for f in world.batch]
    received = [(r["originFilename"], r["filesize"]) for r in records]
    expect_equal(
        "the batch answers one record per file (originFilename, filesize), in the order sent",
        received,
        sent,
        world.reply.request,
    )
    for file, record in zip(world.batch, records):
        world.add_image(file.filename, record, main=False)


@then(parsers.parse("{user}'s gallery lists every image of the batch"))
def _(world: World, user: str):
    listed = set(world.gallery_ids(USER_LABELS[user]))
    missing = [label for label in world.others if world.images[label]["id"] not in listed]
    if missing:
        raise GalleryMismatch(
            "every image of the batch is listed afterwards",
            f"{', '.join(missing)} missing from the list",
            "all of them listed",
            world.reply.request,
        )


@then("the batch is refused whole or keeps exactly the good files, as the contract allows")
def _(world: World):
    choice = world.contract.batch_with_bad_file
    accepted = 200 <= world.reply.status < 300
    before = world.baseline["A"]
    after = world.gallery("A")
    if choice == "rejected_whole" or (choice == "either" and not accepted):
        expect_refusal(world.reply, "wrong_type", world.contract)
        if [r["id"] for r in after] != [r["id"] for r in before]:
            raise GalleryMismatch(
                "a refused batch stores nothing",
                f"{len(after) - len(before)} new image(s) in the gallery: "
                f"{[r['originFilename'] for r in after if r not in before]}",
                "the gallery as it was before the batch",
                world.reply.request,
            )
        return
    records = expect_success(
        world.reply, "a batch with a bad file keeps the good ones", world.contract.success
    )
    good = [f for f in world.batch if f.kind in ("png", "jpeg")]
    expect_equal(
        "an accepted batch with a bad file answers exactly the good files",
        [(r["originFilename"], r["filesize"]) for r in records],
        [(f.filename, f.size) for f in good],
        world.reply.request,
    )
    new = [r for r in after if r["id"] not in {b["id"] for b in before}]
    expect_equal(
        "an accepted batch with a bad file stores exactly the good files",
        sorted(r["originFilename"] for r in new),
        sorted(f.filename for f in good),
        world.reply.request,
        GalleryMismatch,
    )


@then(parsers.parse("a refused batch leaves {user}'s gallery unchanged"))
def _(world: World, user: str):
    accepted = 200 <= world.reply.status < 300
    if accepted and world.contract.batch_with_bad_file != "rejected_whole":
        pytest.skip(
            "the batch was accepted with its good file, as the contract allows "
            "(gallery.batch_with_bad_file): no batch was refused"
        )
    expect_refusal(world.reply, "wrong_type", world.contract)
    label = USER_LABELS[user]
    expect_same_gallery(
        "a refused batch stores none of its files",
        world.gallery(label),
        world.baseline[label],
        world.reply.request,
    )


# Downloading what was stored.


@when(parsers.parse("{user} downloads the image from its url"))
def _(world: World, user: str):
    world.download = world.api.fetch_media(world.image()["url"], USER_LABELS[user])


@when(parsers.parse("{user} downloads the image's thumb"))
def _(world: World, user: str):
    thumb = world.image()["thumb"]
    if thumb is None and "thumb" in world.contract.nullable:
        pytest.skip("the image has no thumb yet, which the contract allows (responses.nullable)")
    world.download = world.api.fetch_media(thumb, USER_LABELS[user])


@then(parsers.parse('the download is byte-identical to "{name}"'))
def _(world: World, name: str):
    expect_status(world.download, (200,), "the url serves the image")
    expect_equal(
        f"the url serves exactly the bytes of {name!r} (sha256)",
        images.sha256_hex(world.download.body),
        world.file(name).sha256,
        world.download.request,
    )


@then("the download is a PNG or JPEG image")
def _(world: World):
    expect_status(world.download, (200,), "the thumb can be downloaded")
    kind = images.sniff(world.download.body)
    if kind not in ("png", "jpeg"):
        raise ConformanceFailure(
            "the thumb decodes as an image",
            f"{len(world.download.body)} bytes that decode as {kind or 'nothing'}",
            "a PNG or JPEG image",
            world.download.request,
        )
