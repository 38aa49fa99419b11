"""One HTTP request and its answer, as the suite records it for failure messages and reports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PartSummary:
    """One multipart part, described without its bytes."""

    name: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str | None  # None for plain form fields
    value: str | None = None  # a plain form field's text (titles are no secret; files are)


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]  # Authorization already redacted
    parts: list[PartSummary] = field(default_factory=list)
    json_body: object = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    elapsed_seconds: float | None = None
    error: str | None = None  # transport failure, when no answer came
    user: str | None = None  # which configured user's token was sent, if any

    @property
    def request_line(self) -> str:
        who = f" as user {self.user}" if self.user else " without a user's token"
        return f"{self.method} {self.url}{who}"
