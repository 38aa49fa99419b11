"""The fault catalogue: each entry is one way a server can break one rule of the API.

Faults exist so the conformance suite can be shown to catch real mistakes. None is ever on by
default; `--fault NAME` (or the launcher's `faults=`) switches one on, and the code that owns
the broken rule asks `config.fault("name")`.
"""

from __future__ import annotations

from collections.abc import Iterable

FAULTS: dict[str, str] = {
    "size_limit_one_byte_short": "a file of exactly the size limit is refused",
    "size_limit_one_byte_over": "a file one byte over the size limit is accepted",
    "type_by_filename": "the type is judged by the file name's extension, not the bytes",
    "type_by_declared_content_type": "the type is judged by the part's declared Content-Type",
    "accepts_gif": "GIF images pass the type check",
    "accept_empty_file": "an empty file is accepted",
    "accept_truncated_image": "only the image header is checked, so truncated images pass",
    "order_accepts_partial": "an order that leaves out images is accepted",
    "order_accepts_duplicates": "an order naming an image twice is accepted",
    "order_accepts_unknown_id": "an order naming an unknown image is accepted",
    "order_not_kept": "a new order is echoed with 200 but not stored",
    "order_wrong_echo": "a new order is stored but the previous order is echoed",
    "list_ignores_order": "the gallery is always listed in upload order",
    "delete_keeps_image": "delete answers 200 success but keeps the image",
    "delete_wrong_body": 'delete answers {"status": "deleted"}',
    "update_foreign_image": "another user's image can be updated",
    "delete_foreign_image": "another user's image can be deleted",
    "list_shows_foreign_images": "the gallery list includes every user's images",
    "no_token_check_on_delete": "delete works without a token, or with a wrong one",
    "wrong_token_accepted_on_list": "any bearer token lists alice's gallery",
    "id_not_uuid": 'image ids in answers look like "img-12" (paths accept them too)',
    "filesize_in_kilobytes": "filesize is reported in kilobytes",
    "wrong_content_type": "a JPEG is reported as image/png",
    "missing_origin_filename": "originFilename is left out of FileBase",
    "url_serves_other_bytes": "the url serves re-encoded bytes, not the uploaded ones",
    "thumb_not_image": "the thumb url serves text",
    "update_keeps_old_file": "update with a new file answers 200 but keeps the old bytes",
    "title_dropped": "upload ignores the title",
    "title_mangled": 'non-ASCII letters in titles are replaced by "?"',
    "filename_mangled": "quotes and non-ASCII letters are stripped from originFilename",
    "crash_on_malformed_id": "a malformed image id gives a 500 instead of a 422",
    "batch_refused_but_partly_stored": "a refused batch keeps the good files before the bad one",
    "batch_returns_fewer": "a good batch stores every file but returns only the first",
    "empty_gallery_null": "an empty gallery is listed as null",
    "validation_error_wrong_shape": 'validation errors answer {"detail": "invalid"}',
    "new_upload_in_middle": "a new upload lands second in a gallery of two or more",
    "hang_on_list": "listing the gallery never answers",
    "hang_on_update": "updating an image never answers (the server stays responsive)",
}


class UnknownFault(ValueError):
    """A fault name that is not in the catalogue."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown fault {name!r} (python -m reference_server --list-faults)")


def check_fault_names(names: Iterable[str]) -> frozenset[str]:
    """Return the names as a set, or raise UnknownFault naming the first unknown one."""
    chosen = frozenset(names)
    for name in sorted(chosen):
        if name not in FAULTS:
            raise UnknownFault(name)
    return chosen


def describe_faults() -> list[str]:
    """One `name: description` line per fault, in catalogue order."""
    return [f"{name}: {text}" for name, text in FAULTS.items()]
