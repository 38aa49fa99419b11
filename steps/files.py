"""Steps that prepare the files a scenario sends."""

from __future__ import annotations

from pytest_bdd import given, parsers

from harness import images
from harness.payload import FileToSend
from harness.session import boundary_file, size_limit
from harness.world import World

# How the features name a kind of file, and the corpus entry that makes it.
KINDS = {
    "PNG": "png",
    "JPEG": "jpeg",
    "GIF": "gif",
    "WebP": "webp",
    "BMP": "bmp",
    "SVG": "svg",
    "PDF": "pdf",
    "text": "text",
    "truncated PNG": "truncated_png",
    "truncated JPEG": "truncated_jpeg",
    "PNG signature followed by junk": "png_signature_with_junk",
}
IMAGE_FACTORIES = {"png": images.png_bytes, "jpeg": images.jpeg_bytes}


def make_file(
    world: World, kind_name: str, filename: str | None = None, declared: str = ""
) -> FileToSend:
    """A file of the named kind; real images get fresh pixels so no two files share bytes."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise LookupError(f"unknown kind of file {kind_name!r}; known: {', '.join(KINDS)}")
    sample = images.corpus_sample(kind)
    data = sample.data
    if kind in IMAGE_FACTORIES:
        data = IMAGE_FACTORIES[kind](seed=world.next_seed())
    return FileToSend(filename or sample.filename, declared or sample.content_type, kind, data=data)


@given(parsers.parse('{user} has a {kind_name} file "{name}"'))
def _(world: World, user: str, kind_name: str, name: str):
    world.add_file(name, make_file(world, kind_name, name))


@given(parsers.parse("{user} has a {kind_name} file named:"))
def _(world: World, user: str, kind_name: str, docstring: str):
    name = docstring.strip()
    world.add_file(name, make_file(world, kind_name, name))


@given(parsers.parse('{user} has a {kind_name} file named "{name}" declared as "{declared}"'))
def _(world: World, user: str, kind_name: str, name: str, declared: str):
    world.add_file(name, make_file(world, kind_name, name, declared))


@given(parsers.parse('{user} has an empty file "{name}"'))
def _(world: World, user: str, name: str):
    world.add_file(name, FileToSend(name, "image/png", "empty", data=b""))


@given(parsers.re(r"(?P<user>\w+) has a (?P<kind_name>PNG|JPEG) file of exactly the size limit"))
def _(world: World, suite, user: str, kind_name: str):
    limit = size_limit(suite, world.api)
    world.add_file("limit", boundary_file(suite, KINDS[kind_name], limit))


@given(parsers.re(r"(?P<user>\w+) has a (?P<kind_name>PNG|JPEG) file one byte over the size limit"))
def _(world: World, suite, user: str, kind_name: str):
    limit = size_limit(suite, world.api)
    world.add_file("over", boundary_file(suite, KINDS[kind_name], limit + 1))


@given(parsers.parse("{user} has a {kind_name} file"))
def _(world: World, user: str, kind_name: str):
    world.add_file(kind_name, make_file(world, kind_name))

