"""Steps about who may call the API at all: requests without a token or with a wrong one."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from pytest_bdd import parsers, when

from harness.client import Reply
from harness.world import World
from steps.files import make_file


def _attempts(world: World, token: str | None) -> dict[str, Callable[[], Reply]]:
    """Each endpoint, called as someone who is not Alice, on Alice's gallery and images."""
    api, image_id = world.api, world.image()["id"]
    # user=None sends no token at all; a token given explicitly replaces the user's.
    return {
        "listing Alice's gallery": lambda: api.list_images(None, token=token),
        "uploading an image": lambda: api.upload(None, make_file(world, "PNG"), token=token),
        "uploading several images": lambda: api.upload_many(
            None, [make_file(world, "PNG"), make_file(world, "JPEG")], token=token
        ),
        "reordering Alice's gallery": lambda: api.reorder(
            None, list(reversed(world.gallery_ids("A"))), token=token
        ),
        "updating Alice's image": lambda: api.update(None, image_id, title="Hijacked", token=token),
        "deleting Alice's image": lambda: api.delete(None, image_id, token=token),
    }


@when(parsers.parse("someone without a token tries {action}"))
def _(world: World, action: str):
    world.act(_attempts(world, None)[action])


@when(parsers.parse("someone with a wrong token tries {action}"))
def _(world: World, action: str):
    world.act(_attempts(world, secrets.token_urlsafe(24))[action])
