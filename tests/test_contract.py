"""The contract file loads as committed, and every wrong value stops the run with its key named."""

from __future__ import annotations

import copy
import json
import math
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from harness.contract import DEFAULT_PATH, REFUSAL_KINDS, load_contract
from harness.errors import SettingError

MISSING = object()  # a value that means "leave the key out of the file"
NULLABLE_HINT = "title, description, contentType, id, originFilename, url, thumb, filesize, status"


def committed() -> dict:
    return tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def toml_value(value: object) -> str:
    """The TOML spelling of one value (bools before ints: True is an int to Python)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML spelling for {value!r}")


def toml_text(data: dict) -> str:
    top = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = []
    for name, table in data.items():
        if isinstance(table, dict):
            tables.append(f"[{name}]")
            tables.extend(f"{k} = {toml_value(v)}" for k, v in table.items())
    return "\n".join(top + tables) + "\n"


def write_contract(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "contract.toml"
    path.write_text(toml_text(data), encoding="utf-8")
    return path


def with_value(table: str, key: str, value: object) -> dict:
    data = copy.deepcopy(committed())
    if value is MISSING:
        del data[table][key]
    else:
        data[table][key] = value
    return data


def setting_error(path: Path) -> str:
    with pytest.raises(SettingError) as caught:
        load_contract(path)
    return str(caught.value)


# The committed file.


def test_committed_contract_loads_with_the_values_written_in_it():
    contract = load_contract()

    assert contract.source == DEFAULT_PATH
    assert contract.megabyte == "auto"
    assert contract.limit_megabytes == 20
    assert contract.untitled_title == frozenset({"null", "empty", "filename"})
    assert contract.content_types == {"png": ("image/png",), "jpeg": ("image/jpeg",)}
    assert contract.mismatched_name_with_valid_bytes == "either"
    assert contract.new_upload_position == "either"
    assert contract.batch_with_bad_file == "either"
    assert contract.success == (200,)
    assert contract.update_success == (200, 204)
    assert contract.update_body == frozenset({"file_base", "stretch_response", "empty"})
    assert contract.nullable == frozenset({"title", "description", "thumb"})
    assert contract.status_values == ()
    assert contract.error_body == "detail"
    assert contract.media_public is False
    assert contract.scenario_seconds == 300.0


def test_committed_contract_refusal_statuses():
    contract = load_contract()

    assert contract.refusals == {
        "unauthenticated": (401, 403),
        "too_large": (413, 400, 422),
        "wrong_type": (415, 400, 422),
        "empty_file": (400, 415, 422),
        "bad_order": (400, 409, 422),
        "not_found": (404,),
        "foreign_image": (403, 404),
        "validation": (422,),
    }
    assert contract.refusal("not_found") == (404,)


def test_a_copy_written_elsewhere_loads_and_records_its_source(tmp_path):
    path = write_contract(tmp_path, committed())

    contract = load_contract(path)

    assert contract.source == path
    assert contract == replace(load_contract(), source=path)


@pytest.mark.parametrize(
    ("reading", "expected"), [("decimal", 20_000_000), ("binary", 20_971_520)]
)
def test_limit_bytes_under_each_reading_of_megabyte(reading, expected):
    assert load_contract().limit_bytes(reading) == expected


def test_limit_bytes_follows_limit_megabytes(tmp_path):
    contract = load_contract(write_contract(tmp_path, with_value("upload", "limit_megabytes", 5)))

    assert (contract.limit_bytes("decimal"), contract.limit_bytes("binary")) == (
        5_000_000,
        5_242_880,
    )


# The file itself.


def test_missing_file_names_the_setting_and_the_path(tmp_path):
    path = tmp_path / "nowhere.toml"

    assert setting_error(path) == f"STRETCH_CONTRACT: no contract file at {path}"


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "contract.toml"
    path.write_text("[upload]\nmegabyte = \n", encoding="utf-8")

    message = setting_error(path)

    assert message.startswith(f"contract file {path} is not valid TOML: "), message


def test_invalid_utf8_is_reported_as_invalid_toml(tmp_path):
    path = tmp_path / "contract.toml"
    path.write_bytes(b"[upload]\nmegabyte = \"\xff\"\n")

    message = setting_error(path)

    assert message.startswith(f"contract file {path} is not valid TOML: "), message


def test_a_directory_instead_of_a_file_names_the_path(tmp_path):
    message = setting_error(tmp_path)

    assert message == f"STRETCH_CONTRACT: cannot read contract file {tmp_path}: Is a directory"


@pytest.mark.parametrize("table", ["upload", "gallery", "responses", "refusals", "timeouts"])
def test_a_table_that_is_not_a_table_is_named(tmp_path, table):
    data = committed()
    data[table] = "off"

    assert setting_error(write_contract(tmp_path, data)) == f"[{table}] = 'off'; expected a table"


# Each key, one wrong value at a time. The expected message is the whole message.

CHOICES = {
    ("upload", "megabyte"): "auto, decimal, binary",
    ("upload", "mismatched_name_with_valid_bytes"): "accept, refuse, either",
    ("gallery", "new_upload_position"): "start, end, either",
    ("gallery", "batch_with_bad_file"): "rejected_whole, partly_stored, either",
    ("responses", "error_body"): "detail, any_json",
}
CHOICE_CASES = [
    pytest.param(table, key, value, f"{table}.{key} = {shown}; expected one of {allowed}",
                 id=f"{key}={shown}")
    for (table, key), allowed in CHOICES.items()
    for value, shown in [("maybe", "'maybe'"), (1, "1"), (True, "True"), (MISSING, "None")]
]  # fmt: skip

SUBSETS = {
    ("upload", "untitled_title"): "null, empty, filename",
    ("responses", "update_body"): "file_base, stretch_response, empty",
}
SUBSET_CASES = [
    pytest.param(table, key, value,
                 f"{table}.{key} = {shown}; expected a non-empty list drawn from {allowed}",
                 id=f"{key}={shown}")
    for (table, key), allowed in SUBSETS.items()
    for value, shown in [([], "[]"), (["empty", "other"], "['empty', 'other']"),
                         ("empty", "'empty'"), ([1], "[1]"), (MISSING, "None")]
]  # fmt: skip

STATUS_KEYS = [("responses", "success"), ("responses", "update_success")] + [
    ("refusals", kind) for kind in REFUSAL_KINDS
]
STATUS_CASES = [
    pytest.param(table, key, value,
                 f"{table}.{key} = {shown}; expected a non-empty list of HTTP statuses",
                 id=f"{key}={shown}")
    for table, key in STATUS_KEYS
    for value, shown in [([], "[]"), ([200, 600], "[200, 600]"), ([99], "[99]"),
                         (["200"], "['200']"), (200, "200"), ([200.0], "[200.0]"),
                         ([True], "[True]")]
]  # fmt: skip

POSITIVE_INT = "expected a positive integer"
TWO_LISTS = "expected lists for png and jpeg"
FIELD_NAMES = f"expected FileBase field names ({NULLABLE_HINT})"
SECONDS = "expected seconds > 0"
OTHER_CASES = [
    ("upload", "limit_megabytes", "20", f"upload.limit_megabytes = '20'; {POSITIVE_INT}"),
    ("upload", "limit_megabytes", 0, f"upload.limit_megabytes = 0; {POSITIVE_INT}"),
    ("upload", "limit_megabytes", -20, f"upload.limit_megabytes = -20; {POSITIVE_INT}"),
    ("upload", "limit_megabytes", 20.5, f"upload.limit_megabytes = 20.5; {POSITIVE_INT}"),
    ("upload", "limit_megabytes", True, f"upload.limit_megabytes = True; {POSITIVE_INT}"),
    ("upload", "limit_megabytes", MISSING, f"upload.limit_megabytes = None; {POSITIVE_INT}"),
    ("upload", "content_types", "image/png", f"upload.content_types = 'image/png'; {TWO_LISTS}"),
    ("upload", "content_types", {"png": ["image/png"]},
     f"upload.content_types = {{'png': ['image/png']}}; {TWO_LISTS}"),
    ("upload", "content_types", {"png": ["image/png"], "jpeg": []},
     f"upload.content_types = {{'png': ['image/png'], 'jpeg': []}}; {TWO_LISTS}"),
    ("upload", "content_types", {"png": "image/png", "jpeg": ["image/jpeg"]},
     f"upload.content_types = {{'png': 'image/png', 'jpeg': ['image/jpeg']}}; {TWO_LISTS}"),
    ("upload", "content_types", {"png": [1], "jpeg": ["image/jpeg"]},
     f"upload.content_types = {{'png': [1], 'jpeg': ['image/jpeg']}}; {TWO_LISTS}"),
    ("upload", "content_types", {"png": ["a"], "jpeg": ["b"], "gif": ["c"]},
     f"upload.content_types = {{'png': ['a'], 'jpeg': ['b'], 'gif': ['c']}}; {TWO_LISTS}"),
    ("upload", "content_types", MISSING, f"upload.content_types = None; {TWO_LISTS}"),
    ("responses", "nullable", "title", f"responses.nullable = 'title'; {FIELD_NAMES}"),
    ("responses", "nullable", ["title", "name"],
     f"responses.nullable = ['title', 'name']; {FIELD_NAMES}"),
    ("responses", "nullable", MISSING, f"responses.nullable = None; {FIELD_NAMES}"),
    ("responses", "status_values", "approved",
     "responses.status_values = 'approved'; expected strings"),
    ("responses", "status_values", ["approved", 1],
     "responses.status_values = ['approved', 1]; expected strings"),
    ("responses", "status_values", MISSING, "responses.status_values = None; expected strings"),
    ("responses", "media_public", "false",
     "responses.media_public = 'false'; expected true or false"),
    ("responses", "media_public", 0, "responses.media_public = 0; expected true or false"),
    ("responses", "media_public", MISSING,
     "responses.media_public = None; expected true or false"),
    ("timeouts", "scenario_seconds", 0, f"timeouts.scenario_seconds = 0; {SECONDS}"),
    ("timeouts", "scenario_seconds", -1.5, f"timeouts.scenario_seconds = -1.5; {SECONDS}"),
    ("timeouts", "scenario_seconds", "300", f"timeouts.scenario_seconds = '300'; {SECONDS}"),
    ("timeouts", "scenario_seconds", True, f"timeouts.scenario_seconds = True; {SECONDS}"),
    ("timeouts", "scenario_seconds", math.nan, f"timeouts.scenario_seconds = nan; {SECONDS}"),
    ("timeouts", "scenario_seconds", math.inf, f"timeouts.scenario_seconds = inf; {SECONDS}"),
    ("timeouts", "scenario_seconds", MISSING, f"timeouts.scenario_seconds = None; {SECONDS}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "key", "value", "expected"),
    CHOICE_CASES + SUBSET_CASES + STATUS_CASES + OTHER_CASES,
)
def test_wrong_value_raises_setting_error_naming_the_key(tmp_path, table, key, value, expected):
    path = write_contract(tmp_path, with_value(table, key, value))

    assert setting_error(path) == expected


@pytest.mark.parametrize("kind", REFUSAL_KINDS)
def test_missing_refusal_kind_is_named(tmp_path, kind):
    path = write_contract(tmp_path, with_value("refusals", kind, MISSING))

    assert setting_error(path) == f"refusals: missing {kind}"


def test_every_missing_refusal_kind_is_named_at_once(tmp_path):
    data = committed()
    data["refusals"] = {"not_found": [404]}

    assert setting_error(write_contract(tmp_path, data)) == (
        "refusals: missing unauthenticated, too_large, wrong_type, empty_file, bad_order, "
        "foreign_image, validation"
    )


def test_empty_lists_that_mean_no_restriction_are_accepted(tmp_path):
    data = with_value("responses", "nullable", [])
    data["responses"]["status_values"] = []

    contract = load_contract(write_contract(tmp_path, data))

    assert (contract.nullable, contract.status_values) == (frozenset(), ())


def test_a_misspelt_key_is_named_instead_of_silently_ignored(tmp_path):
    data = committed()
    data["gallery"]["new_upload_postion"] = "end"
    path = write_contract(tmp_path, data)

    assert setting_error(path) == (
        f"contract file {path}: unknown key gallery.new_upload_postion; "
        "expected one of batch_with_bad_file, new_upload_position"
    )


def test_an_unknown_section_is_named(tmp_path):
    data = committed()
    data["galery"] = {"new_upload_position": "end"}
    path = write_contract(tmp_path, data)

    assert setting_error(path) == (
        f"contract file {path}: unknown section [galery]; "
        "expected [upload], [gallery], [responses], [refusals], [timeouts]"
    )
