"""The JSON Schemas of the API's bodies, fitted to the contract, and validation against them."""

from __future__ import annotations

import copy
import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from harness.contract import Contract
from harness.errors import SchemaViolation

logger = logging.getLogger(__name__)

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
MESSAGE_LIMIT = 200

# jsonschema's own uuid check strips every hyphen before parsing, so an ID with an extra one
# ("12345678-1234-1234-1234-1234-56789012") would pass: hold IDs to the 8-4-4-4-12 form.
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def _format_checker() -> FormatChecker:
    checker = FormatChecker()

    @checker.checks("uuid")
    def is_uuid(instance: object) -> bool:
        return not isinstance(instance, str) or _UUID.fullmatch(instance) is not None

    return checker


@lru_cache(maxsize=4)
def _read_schemas(directory: Path) -> dict[str, dict]:
    """Every schema file of a folder, by file stem; read once per process."""
    schemas = {}
    for path in sorted(directory.glob("*.json")):
        schemas[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    if not schemas:
        raise FileNotFoundError(f"no JSON Schema files in {directory}")
    return schemas


def _fit_file_base(schema: dict, contract: Contract) -> dict:
    """FileBase as the contract reads it: nullable fields take null, status may get an enum."""
    properties = schema["properties"]
    for field in contract.nullable:
        kinds = properties[field]["type"]
        kinds = kinds if isinstance(kinds, list) else [kinds]
        properties[field]["type"] = [*kinds, "null"]
    if contract.status_values:
        allowed: list[str | None] = list(contract.status_values)
        if "status" in contract.nullable:
            allowed.append(None)
        properties["status"]["enum"] = allowed
    return schema


def _fit_error(schema: dict, contract: Contract) -> dict:
    """With error_body = "any_json", keep only the annotations: every JSON value is valid."""
    if contract.error_body == "any_json":
        keep = ("$schema", "$id", "title", "description")
        return {key: schema[key] for key in keep}
    return schema


def _pointer(parts: object) -> str:
    """A JSON Pointer from path parts; the root is "/"."""
    tokens = [str(part).replace("~", "~0").replace("/", "~1") for part in parts]
    return "/" + "/".join(tokens)


def _shorten(text: str) -> str:
    if len(text) <= MESSAGE_LIMIT:
        return text
    return text[: MESSAGE_LIMIT - 3] + "..."


class SchemaBook:
    """The schemas of one contract, each validator built once."""

    def __init__(self, contract: Contract, directory: Path = SCHEMA_DIR):
        schemas = copy.deepcopy(_read_schemas(directory))
        schemas["file_base"] = _fit_file_base(schemas["file_base"], contract)
        schemas["error"] = _fit_error(schemas["error"], contract)

        resources = [(s["$id"], Resource.from_contents(s)) for s in schemas.values()]
        registry: Registry = Registry().with_resources(resources)
        checker = _format_checker()
        self._schemas = schemas
        self._validators = {
            name: Draft202012Validator(schema, registry=registry, format_checker=checker)
            for name, schema in schemas.items()
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, name: str) -> dict:
        """The schema as fitted to the contract."""
        return self._validator(name).schema

    def is_valid(self, schema_name: str, instance: object) -> bool:
        return self._validator(schema_name).is_valid(instance)

    def validate(self, schema_name: str, instance: object, request_line: str) -> None:
        """Raise SchemaViolation, with the most relevant error, unless `instance` is valid."""
        error = best_match(self._validator(schema_name).iter_errors(instance))
        if error is None:
            return
        violation = self._violation(schema_name, error, request_line)
        logger.debug("%s: %s", request_line, violation)
        raise violation

    def _validator(self, name: str) -> Draft202012Validator:
        try:
            return self._validators[name]
        except KeyError:
            raise KeyError(f"no schema named {name!r}; known: {', '.join(self.names)}") from None

    @staticmethod
    def _violation(name: str, error: ValidationError, request_line: str) -> SchemaViolation:
        # The path is read as one schema with references inlined: "/items/properties/id",
        # not "/items/$ref/properties/id", which points nowhere in either file.
        schema_path = [part for part in error.absolute_schema_path if part != "$ref"]
        # jsonschema words a const failure as "'success' was expected", naming only the value
        # wanted; the reader needs the value received.
        message = error.message
        if error.validator == "const":
            message = f"{error.instance!r} is not {error.validator_value!r}"
        return SchemaViolation(
            name,
            _pointer(schema_path),
            _pointer(error.absolute_path),
            _shorten(message),
            request_line,
        )
