"""Steps about how a request was refused."""

from __future__ import annotations

from pytest_bdd import parsers, then

from harness.expect import REFUSAL_WORDS, expect_refusal
from harness.world import World

REFUSAL_KINDS = {words.removeprefix("refused as "): kind for kind, words in REFUSAL_WORDS.items()}


@then(parsers.parse("the request is refused as {reason}"))
def _(world: World, reason: str):
    expect_refusal(world.reply, REFUSAL_KINDS[reason], world.contract)


@then("the request is refused with a validation error")
def _(world: World):
    expect_refusal(world.reply, "validation", world.contract)
