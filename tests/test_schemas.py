"""The schema files are valid, accept good bodies, and name the exact spot of a bad one."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from jsonschema import Draft202012Validator

from harness.contract import FILE_BASE_FIELDS, load_contract
from harness.errors import SchemaViolation
from harness.schemas import SCHEMA_DIR, SchemaBook, _pointer

REQUEST = "GET http://127.0.0.1:8000/api/v1/storage/images as alice"
ID_A = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
ID_B = "9c7e1a52-0d4b-4f4e-8a8e-2b9f1c3d5e7a"
NAMES = [
    "error",
    "file_base",
    "file_base_list",
    "http_validation_error",
    "order_in",
    "stretch_response",
]


def file_base(**changes: object) -> dict:
    body = {
        "title": "Beach",
        "description": "",
        "contentType": "image/png",
        "id": ID_A,
        "originFilename": "beach.png",
        "url": "http://127.0.0.1:8000/media/beach.png",
        "thumb": "http://127.0.0.1:8000/media/beach-thumb.png",
        "filesize": 852,
        "status": "approved",
    }
    body.update(changes)
    return body


def without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


def violation(book: SchemaBook, name: str, instance: object) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as caught:
        book.validate(name, instance, REQUEST)
    return caught.value


@pytest.fixture(scope="module")
def book() -> SchemaBook:
    return SchemaBook(load_contract())


@pytest.mark.parametrize("name", NAMES)
def test_schema_file_is_valid_draft_2020_12_with_its_annotations(name):
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))

    Draft202012Validator.check_schema(schema)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", schema["$schema"]
    assert schema["$id"] == f"https://schemas.stretch-conformance.local/{name}.json", schema["$id"]
    assert schema["title"] and schema["description"], f"{name}: title or description missing"


def test_book_names_every_schema_file(book):
    assert book.names == NAMES, f"names: received {book.names}, expected {NAMES}"


@pytest.mark.parametrize("name", NAMES)
def test_fitted_schemas_are_valid_too(book, name):
    Draft202012Validator.check_schema(book.schema(name))


def test_unknown_schema_name_is_an_error_listing_the_known_ones(book):
    with pytest.raises(KeyError, match="no schema named 'gallery'; known: error, file_base,"):
        book.validate("gallery", {}, REQUEST)


GOOD = [
    ("file_base", file_base()),
    ("file_base", file_base(extra="a server may add fields", filesize=0)),
    ("file_base", file_base(id=ID_A.upper())),
    ("file_base_list", []),
    ("file_base_list", [file_base(), file_base(id=ID_B)]),
    ("order_in", {"order": []}),
    ("order_in", {"order": [ID_A, ID_B]}),
    ("stretch_response", {"status": "success"}),
    ("http_validation_error", {"detail": []}),
    (
        "http_validation_error",
        {"detail": [{"loc": ["body", "files", 0], "msg": "Field required", "type": "missing"}]},
    ),
    ("error", {"detail": "Not authenticated"}),
    ("error", {"detail": {"code": "too_large"}}),
    ("error", {"detail": 0}),
]


@pytest.mark.parametrize(("name", "instance"), GOOD)
def test_schema_accepts_a_good_body(book, name, instance):
    assert book.is_valid(name, instance), f"{name} refused {instance}"
    book.validate(name, instance, REQUEST)


# (schema, body, schema path, instance path) of the most relevant error.
BAD = [
    ("file_base", without(file_base(), "status"), "/required", "/"),
    ("file_base", without(file_base(), "title"), "/required", "/"),
    ("file_base", file_base(id="not-a-uuid"), "/properties/id/format", "/id"),
    (
        "file_base",
        file_base(id="3fa85f64-5717-4562-b3fc-2c96-3f66afa6"),
        "/properties/id/format",
        "/id",
    ),
    ("file_base", file_base(id=None), "/properties/id/type", "/id"),
    ("file_base", file_base(filesize="852"), "/properties/filesize/type", "/filesize"),
    ("file_base", file_base(filesize=-1), "/properties/filesize/minimum", "/filesize"),
    ("file_base", file_base(filesize=8.5), "/properties/filesize/type", "/filesize"),
    ("file_base", file_base(url=""), "/properties/url/minLength", "/url"),
    ("file_base", file_base(contentType=7), "/properties/contentType/type", "/contentType"),
    ("file_base", [file_base()], "/type", "/"),
    ("file_base_list", file_base(), "/type", "/"),
    ("file_base_list", [file_base(), file_base(id="x")], "/items/properties/id/format", "/1/id"),
    (
        "file_base_list",
        [without(file_base(), "filesize")],
        "/items/required",
        "/0",
    ),
    ("order_in", {}, "/required", "/"),
    ("order_in", {"order": ID_A}, "/properties/order/type", "/order"),
    ("order_in", {"order": [ID_A, 5]}, "/properties/order/items/type", "/order/1"),
    ("order_in", {"order": ["abc"]}, "/properties/order/items/format", "/order/0"),
    ("stretch_response", {"status": "ok"}, "/properties/status/const", "/status"),
    ("stretch_response", {}, "/required", "/"),
    ("http_validation_error", {"detail": "bad"}, "/properties/detail/type", "/detail"),
    ("http_validation_error", {}, "/required", "/"),
    (
        "http_validation_error",
        {"detail": [{"msg": "Field required", "type": "missing"}]},
        "/properties/detail/items/required",
        "/detail/0",
    ),
    (
        "http_validation_error",
        {"detail": [{"loc": ["body", 1.5], "msg": "m", "type": "t"}]},
        "/properties/detail/items/properties/loc/items/type",
        "/detail/0/loc/1",
    ),
    ("error", {"detail": None}, "/properties/detail/type", "/detail"),
    ("error", {"message": "no"}, "/required", "/"),
    ("error", "Internal Server Error", "/type", "/"),
]


@pytest.mark.parametrize(("name", "instance", "schema_path", "instance_path"), BAD)
def test_schema_refuses_a_bad_body_naming_the_spot(
    book, name, instance, schema_path, instance_path
):
    error = violation(book, name, instance)

    received = (error.schema, error.schema_path, error.instance_path)
    assert received == (name, schema_path, instance_path), (
        f"violation of {instance!r}: received {received}, "
        f"expected {(name, schema_path, instance_path)}"
    )
    assert error.request == REQUEST, f"request line: {error.request}"
    assert not book.is_valid(name, instance), f"is_valid({name}) said yes to {instance!r}"


def test_violation_message_names_the_offending_value(book):
    error = violation(book, "file_base_list", [file_base(id="not-a-uuid")])

    assert error.received == "'not-a-uuid' is not a 'uuid'", f"message: {error.received}"
    assert str(error).splitlines() == [
        "response body does not match schema file_base_list "
        "(schema path /items/properties/id/format, instance path /0/id)",
        "  received: 'not-a-uuid' is not a 'uuid'",
        "  expected: a body valid against file_base_list",
        f"  request:  {REQUEST}",
    ], str(error)


def test_violation_message_is_cut_to_about_200_characters(book):
    error = violation(book, "file_base_list", {"detail": "x" * 5_000})

    assert len(error.received) == 200, f"message is {len(error.received)} characters"
    assert error.received.startswith("{'detail': 'xxx"), error.received[:40]
    assert error.received.endswith("..."), error.received[-10:]


def test_json_pointer_escapes_slash_and_tilde():
    pointer = _pointer(["properties", "a/b~c", 0])

    assert pointer == "/properties/a~1b~0c/0", f"pointer: {pointer}"
    assert _pointer([]) == "/", f"root pointer: {_pointer([])}"


@pytest.mark.parametrize("field", FILE_BASE_FIELDS)
def test_only_the_contract_nullable_fields_accept_null(field):
    contract = replace(load_contract(), nullable=frozenset({"title", "thumb"}))
    book = SchemaBook(contract)

    accepted = book.is_valid("file_base", file_base(**{field: None}))

    expected = field in {"title", "thumb"}
    assert accepted == expected, f"{field}=null: accepted {accepted}, expected {expected}"


def test_a_nullable_field_still_needs_to_be_present():
    book = SchemaBook(replace(load_contract(), nullable=frozenset({"thumb"})))

    error = violation(book, "file_base", without(file_base(), "thumb"))

    received = (error.schema_path, error.received)
    assert received == ("/required", "'thumb' is a required property"), f"violation: {received}"


def test_a_nullable_field_keeps_its_type_when_not_null():
    book = SchemaBook(replace(load_contract(), nullable=frozenset({"filesize", "id"})))

    assert book.is_valid("file_base", file_base(filesize=None, id=None)), "nulls refused"
    error = violation(book, "file_base", file_base(filesize="852"))
    assert error.schema_path == "/properties/filesize/type", error.schema_path
    error = violation(book, "file_base", file_base(id="abc"))
    assert error.schema_path == "/properties/id/format", error.schema_path


def test_default_contract_lets_title_description_and_thumb_be_null(book):
    body = file_base(title=None, description=None, thumb=None)

    assert book.is_valid("file_base", body), "default nullable fields refused null"
    assert not book.is_valid("file_base", file_base(url=None)), "url accepted null"


def test_any_status_string_when_the_contract_lists_no_values(book):
    assert book.is_valid("file_base", file_base(status="pending")), "status 'pending' refused"
    error = violation(book, "file_base", file_base(status=1))
    assert error.schema_path == "/properties/status/type", error.schema_path


def test_status_enum_when_the_contract_lists_values():
    contract = replace(load_contract(), status_values=("approved", "pending"))
    book = SchemaBook(contract)

    error = violation(book, "file_base_list", [file_base(status="rejected")])

    assert book.is_valid("file_base", file_base(status="pending")), "listed status refused"
    spot = (error.schema_path, error.instance_path)
    assert spot == ("/items/properties/status/enum", "/0/status"), f"spot: {spot}"
    assert error.received == "'rejected' is not one of ['approved', 'pending']", error.received
    assert not book.is_valid("file_base", file_base(status=None)), "null status accepted"


def test_status_enum_takes_null_when_status_is_nullable():
    contract = replace(
        load_contract(), status_values=("approved",), nullable=frozenset({"status"})
    )
    book = SchemaBook(contract)

    assert book.is_valid("file_base", file_base(status=None)), "null status refused"
    assert not book.is_valid("file_base", file_base(status="pending")), "unlisted status accepted"


@pytest.mark.parametrize("body", [None, "Forbidden", [], {"message": "no"}, {"detail": None}, 3])
def test_any_json_error_body_accepts_every_value(body):
    book = SchemaBook(replace(load_contract(), error_body="any_json"))

    book.validate("error", body, REQUEST)


def test_the_book_does_not_change_the_schema_files():
    before = json.loads((SCHEMA_DIR / "file_base.json").read_text(encoding="utf-8"))
    SchemaBook(replace(load_contract(), status_values=("approved",)))

    fresh = SchemaBook(replace(load_contract(), nullable=frozenset()))

    assert fresh.schema("file_base") == before, "a fitted schema leaked into another book"
