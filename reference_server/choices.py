"""The choice catalogue: other legitimate answers to the points the API description leaves open.

The reference server makes one choice for each open point (see the package docstring). A choice
switches one of them to another answer a correct server could give, so the conformance suite can
be shown to accept every correct server, not only this one. None is on by default; `--choice
NAME` (or the launcher's `choices=`) switches one on, and the code that owns the rule asks
`config.choice("name")`. Choices in one exclusive group answer the same point differently, so
at most one of them may be on.
"""

from __future__ import annotations

from collections.abc import Iterable

CHOICES: dict[str, str] = {
    "decimal_megabyte": "20 MB is 20,000,000 bytes, inclusive (not 20 x 1,048,576)",
    "unauthenticated_403": "a missing or unknown token answers 403 instead of 401",
    "too_large_400": "a file over the size limit answers 400 instead of 413",
    "wrong_type_422": "a file of the wrong type answers 422 in FastAPI's validation shape",
    "wrong_type_400": "a file of the wrong type answers 400 instead of 415",
    "empty_file_422": "an empty file answers 422 in FastAPI's validation shape instead of 400",
    "bad_order_409": "an order that does not name every image once answers 409 instead of 400",
    "bad_order_422": "a bad order answers 422 in FastAPI's validation shape instead of 400",
    "foreign_image_403": "another user's image answers 403 instead of 404",
    "new_upload_first": "new uploads land at the start of the gallery order, not the end",
    "batch_partly_stored": "a batch with a bad file answers 200, storing exactly the good files",
    "update_answers_stretch_response": 'update answers 200 {"status": "success"}',
    "update_answers_empty": "update answers 204 with no body",
    "untitled_is_filename": "an upload without a title gets the original file name as title",
    "untitled_is_empty": 'an upload without a title gets the title ""',
    "thumb_null": "thumb is null: the thumbnail is not made yet",
    "description_empty": 'description is "" rather than null',
    "media_needs_token": "url and thumb answer 401 without the uploader's bearer token",
    "relative_media_urls": 'url and thumb are paths such as "/media/{id}" on the server origin',
    "extra_fields": 'FileBase carries extra members: "createdAt", "width", "height"',
    "refuse_mismatched_names": "valid PNG or JPEG bytes whose name or declared type says "
    "otherwise (photo.gif, image/gif) are refused 415",
    "error_body_message": 'refusals other than 422 answer {"detail": "...", "code": "..."}',
}

# Each group answers one open point; two of its members cannot both be on.
EXCLUSIVE: tuple[frozenset[str], ...] = (
    frozenset({"wrong_type_422", "wrong_type_400"}),
    frozenset({"bad_order_409", "bad_order_422"}),
    frozenset({"update_answers_stretch_response", "update_answers_empty"}),
    frozenset({"untitled_is_filename", "untitled_is_empty"}),
)


class ChoiceError(ValueError):
    """A choice name that is not in the catalogue, or two choices that exclude each other."""


def check_choice_names(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a set; raise ChoiceError for an unknown name or a clash."""
    chosen = frozenset(names)
    for name in sorted(chosen):
        if name not in CHOICES:
            raise ChoiceError(
                f"unknown choice {name!r} (python -m reference_server --list-choices)"
            )
    for group in EXCLUSIVE:
        clash = sorted(chosen & group)
        if len(clash) > 1:
            raise ChoiceError(f"choices {' and '.join(map(repr, clash))} exclude each other")
    return chosen


def describe_choices() -> list[str]:
    """One `name: description` line per choice, in catalogue order."""
    return [f"{name}: {text}" for name, text in CHOICES.items()]
