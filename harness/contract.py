"""The contract file: what the suite accepts where the API description is silent."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SettingError

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "contract.toml"

MEGABYTE_BYTES = {"decimal": 1_000_000, "binary": 1_048_576}
REFUSAL_KINDS = (
    "unauthenticated",
    "too_large",
    "wrong_type",
    "empty_file",
    "bad_order",
    "not_found",
    "foreign_image",
    "validation",
)
FILE_BASE_FIELDS = (
    "title",
    "description",
    "contentType",
    "id",
    "originFilename",
    "url",
    "thumb",
    "filesize",
    "status",
)


@dataclass(frozen=True)
class Contract:
    megabyte: str
    limit_megabytes: int
    untitled_title: frozenset[str]
    content_types: dict[str, tuple[str, ...]]
    mismatched_name_with_valid_bytes: str
    new_upload_position: str
    batch_with_bad_file: str
    success: tuple[int, ...]
    update_success: tuple[int, ...]
    update_body: frozenset[str]
    nullable: frozenset[str]
    status_values: tuple[str, ...]
    error_body: str
    media_public: bool
    refusals: dict[str, tuple[int, ...]]
    scenario_seconds: float
    source: Path

    def limit_bytes(self, reading: str) -> int:
        """The size limit in bytes under one reading of "MB" ("decimal" or "binary")."""
        return self.limit_megabytes * MEGABYTE_BYTES[reading]

    def refusal(self, kind: str) -> tuple[int, ...]:
        return self.refusals[kind]


def _table(data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise SettingError(f"[{name}] = {value!r}; expected a table")
    return value


def _choice(table: dict, key: str, allowed: tuple[str, ...], where: str) -> str:
    value = table.get(key)
    if value not in allowed:
        raise SettingError(f"{where}.{key} = {value!r}; expected one of {', '.join(allowed)}")
    return value


def _subset(table: dict, key: str, allowed: tuple[str, ...], where: str) -> frozenset[str]:
    value = table.get(key)
    if not isinstance(value, list) or not value or any(v not in allowed for v in value):
        raise SettingError(
            f"{where}.{key} = {value!r}; expected a non-empty list drawn from {', '.join(allowed)}"
        )
    return frozenset(value)


def _statuses(table: dict, key: str, where: str) -> tuple[int, ...]:
    value = table.get(key)
    ok = isinstance(value, list) and value and all(
        isinstance(v, int) and 100 <= v <= 599 for v in value
    )
    if not ok:
        raise SettingError(f"{where}.{key} = {value!r}; expected a non-empty list of HTTP statuses")
    return tuple(value)


KNOWN_KEYS = {
    "upload": {
        "megabyte", "limit_megabytes", "untitled_title", "content_types",
        "mismatched_name_with_valid_bytes",
    },
    "gallery": {"new_upload_position", "batch_with_bad_file"},
    "responses": {
        "success", "update_success", "update_body", "nullable", "status_values", "error_body",
        "media_public",
    },
    "refusals": set(REFUSAL_KINDS),
    "timeouts": {"scenario_seconds"},
}  # fmt: skip


def _check_keys(data: dict, path: Path) -> None:
    """A misspelt key would silently leave the default in force: name it instead."""
    for section, value in data.items():
        if section not in KNOWN_KEYS:
            raise SettingError(
                f"contract file {path}: unknown section [{section}]; "
                f"expected {', '.join(f'[{s}]' for s in KNOWN_KEYS)}"
            )
        if isinstance(value, dict):
            for key in value:
                if key not in KNOWN_KEYS[section]:
                    raise SettingError(
                        f"contract file {path}: unknown key {section}.{key}; expected one of "
                        f"{', '.join(sorted(KNOWN_KEYS[section]))}"
                    )


def load_contract(path: Path | None = None) -> Contract:
    """Read and check the contract file; a wrong value raises SettingError naming it."""
    path = Path(path) if path else DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingError(f"STRETCH_CONTRACT: no contract file at {path}") from None
    except OSError as exc:
        # A directory or an unreadable file: as fatal as a missing one, and named the same way.
        raise SettingError(
            f"STRETCH_CONTRACT: cannot read contract file {path}: {exc.strerror or exc}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingError(f"contract file {path} is not valid TOML: {exc}") from None

    _check_keys(data, path)
    upload = _table(data, "upload")
    gallery = _table(data, "gallery")
    responses = _table(data, "responses")
    refusals = _table(data, "refusals")
    timeouts = _table(data, "timeouts")

    limit = upload.get("limit_megabytes")
    # bool is an int to Python, but `limit_megabytes = true` is a mistake, not 1 MB.
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise SettingError(f"upload.limit_megabytes = {limit!r}; expected a positive integer")

    content_types = upload.get("content_types")
    if (
        not isinstance(content_types, dict)
        or set(content_types) != {"png", "jpeg"}
        or not all(
            isinstance(v, list) and v and all(isinstance(t, str) for t in v)
            for v in content_types.values()
        )
    ):
        raise SettingError(
            f"upload.content_types = {content_types!r}; expected lists for png and jpeg"
        )

    nullable = responses.get("nullable")
    if not isinstance(nullable, list) or any(f not in FILE_BASE_FIELDS for f in nullable):
        raise SettingError(
            f"responses.nullable = {nullable!r}; expected FileBase field names "
            f"({', '.join(FILE_BASE_FIELDS)})"
        )
    status_values = responses.get("status_values")
    if not isinstance(status_values, list) or not all(isinstance(v, str) for v in status_values):
        raise SettingError(f"responses.status_values = {status_values!r}; expected strings")
    media_public = responses.get("media_public")
    if not isinstance(media_public, bool):
        raise SettingError(f"responses.media_public = {media_public!r}; expected true or false")

    missing = [k for k in REFUSAL_KINDS if k not in refusals]
    if missing:
        raise SettingError(f"refusals: missing {', '.join(missing)}")

    seconds = timeouts.get("scenario_seconds")
    if (
        not isinstance(seconds, (int, float))
        or isinstance(seconds, bool)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise SettingError(f"timeouts.scenario_seconds = {seconds!r}; expected seconds > 0")

    return Contract(
        megabyte=_choice(upload, "megabyte", ("auto", "decimal", "binary"), "upload"),
        limit_megabytes=limit,
        untitled_title=_subset(upload, "untitled_title", ("null", "empty", "filename"), "upload"),
        content_types={k: tuple(v) for k, v in content_types.items()},
        mismatched_name_with_valid_bytes=_choice(
            upload, "mismatched_name_with_valid_bytes", ("accept", "refuse", "either"), "upload"
        ),
        new_upload_position=_choice(
            gallery, "new_upload_position", ("start", "end", "either"), "gallery"
        ),
        batch_with_bad_file=_choice(
            gallery,
            "batch_with_bad_file",
            ("rejected_whole", "partly_stored", "either"),
            "gallery",
        ),
        success=_statuses(responses, "success", "responses"),
        update_success=_statuses(responses, "update_success", "responses"),
        update_body=_subset(
            responses, "update_body", ("file_base", "stretch_response", "empty"), "responses"
        ),
        nullable=frozenset(nullable),
        status_values=tuple(status_values),
        error_body=_choice(responses, "error_body", ("detail", "any_json"), "responses"),
        media_public=media_public,
        refusals={k: _statuses(refusals, k, "refusals") for k in REFUSAL_KINDS},
        scenario_seconds=float(seconds),
        source=path,
    )
