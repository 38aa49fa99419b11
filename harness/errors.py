"""The failures the suite raises, one class per failure category shown in reports."""

from __future__ import annotations


class SettingError(Exception):
    """A setting or the contract file holds a value the suite cannot use; the run stops."""


class ConformanceFailure(AssertionError):
    """The server broke a rule. `category` groups failures in reports."""

    category = "wrong behaviour"

    def __init__(self, checked: str, received: object, expected: object, request: str = ""):
        self.checked = checked
        self.received = received
        self.expected = expected
        self.request = request
        lines = [checked, f"  received: {received}", f"  expected: {expected}"]
        if request:
            lines.append(f"  request:  {request}")
        super().__init__("\n".join(lines))


class WrongStatus(ConformanceFailure):
    category = "wrong status"


class SchemaViolation(ConformanceFailure):
    category = "schema violation"

    def __init__(
        self,
        schema: str,
        schema_path: str,
        instance_path: str,
        message: str,
        request: str,
    ):
        self.schema = schema
        self.schema_path = schema_path
        self.instance_path = instance_path
        super().__init__(
            f"response body does not match schema {schema} "
            f"(schema path {schema_path}, instance path {instance_path})",
            message,
            f"a body valid against {schema}",
            request,
        )


class GalleryMismatch(ConformanceFailure):
    category = "gallery state mismatch"


class TransportFailure(AssertionError):
    """The target did not answer: refused connection, reset, or timeout."""

    category = "transport error or timeout"

    def __init__(self, request: str, reason: str, unreachable: bool = False):
        self.request = request
        self.reason = reason
        self.unreachable = unreachable  # no connection could be made at all
        super().__init__(f"{request}: {reason}")
