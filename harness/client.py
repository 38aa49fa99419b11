"""The HTTP client: sends requests as a named user and records every exchange."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from harness.errors import SchemaViolation, TransportFailure
from harness.exchange import Exchange, PartSummary
from harness.payload import FileToSend

Listener = Callable[[Exchange], None]
REDACTED = "Bearer <redacted>"


@dataclass
class Reply:
    """One answer, with the exchange that produced it and the result of its schema check."""

    exchange: Exchange
    schema_error: SchemaViolation | None = None
    schema_checked: str | None = None  # the schema name the body was validated against
    reported: bool = field(default=False, repr=False)

    @property
    def status(self) -> int:
        return self.exchange.status

    @property
    def body(self) -> bytes:
        return self.exchange.response_body

    @property
    def request(self) -> str:
        return self.exchange.request_line

    def json(self) -> object:
        return json.loads(self.body)

    def excerpt(self, limit: int = 300) -> str:
        text = self.body[:limit].decode("utf-8", "replace")
        more = "…" if len(self.body) > limit else ""
        return f"{self.status} {text}{more}" if text else f"{self.status} (empty body)"


class ApiClient:
    """Sends requests to one API root; tokens are looked up by user label ("A", "B")."""

    def __init__(
        self,
        base_url: str,
        tokens: dict[str, str],
        timeout: float,
        timeout_source: str = "STRETCH_TIMEOUT",
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.timeout_source = timeout_source  # what a timeout message says the wait came from
        self._tokens = tokens
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.listeners: list[Listener] = []  # told of every exchange once it is over
        self.before_send: list[Listener] = []  # told of every request before it leaves

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def send(
        self,
        method: str,
        url: str,
        *,
        user: str | None,
        token: str | None = None,
        files: Sequence[tuple[str, FileToSend]] = (),
        fields: dict[str, str] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Reply:
        """Send one request. `token` overrides the user's (for wrong-token checks)."""
        headers: dict[str, str] = {}
        secret = token if token is not None else self._tokens.get(user) if user else None
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        if content_type:
            headers["Content-Type"] = content_type
        exchange = Exchange(
            method=method,
            url=url,
            request_headers={**headers, **({"Authorization": REDACTED} if secret else {})},
            parts=_summaries(files, fields),
            json_body=json_body,
            user=user,
        )
        for listener in self.before_send:
            listener(exchange)
        # Plain fields travel as multipart parts too (a None file name), as the API's clients send
        # them; httpx would otherwise switch to urlencoded when no file is attached.
        opened = [(name, (f.filename, f.content(), f.content_type)) for name, f in files]
        multipart = opened + [(name, (None, value)) for name, value in (fields or {}).items()]
        unreachable = False
        started = time.perf_counter()
        try:
            response = self._http.request(
                method,
                url,
                headers=headers,
                files=multipart or None,
                json=json_body if json_body is not None else None,
                content=content,
            )
        except httpx.TimeoutException:
            exchange.error = f"no answer within {self.timeout:g} s ({self.timeout_source})"
        except httpx.TransportError as exc:
            exchange.error = f"transport error: {type(exc).__name__}: {exc}"
            unreachable = isinstance(exc, httpx.ConnectError)
        except BaseException as exc:
            # The scenario's time ran out, or Ctrl-C, while this request waited: say which one.
            waited = time.perf_counter() - started
            exc.add_note(f"while waiting {waited:.1f} s for the answer to {exchange.request_line}")
            raise
        finally:
            for _, (_, stream, _) in opened:
                if hasattr(stream, "close"):
                    stream.close()
        exchange.elapsed_seconds = time.perf_counter() - started
        if exchange.error is None:
            exchange.status = response.status_code
            exchange.response_headers = dict(response.headers)
            exchange.response_body = response.content
        for listener in self.listeners:
            listener(exchange)
        if exchange.error is not None:
            raise TransportFailure(exchange.request_line, exchange.error, unreachable)
        return Reply(exchange)

    def fetch_media(self, url: str, user: str, public: bool) -> Reply:
        """GET an image's url or thumb; the token goes only to the API's own origin."""
        absolute = urljoin(self.base_url + "/", url)
        reply = self.send("GET", absolute, user=None)
        if not public and reply.status in (401, 403) and self.same_origin(absolute):
            reply = self.send("GET", absolute, user=user)
        return reply


def _summaries(
    files: Sequence[tuple[str, FileToSend]], fields: dict[str, str] | None
) -> list[PartSummary]:
    parts = [
        PartSummary(name, f.filename, f.content_type, f.size, f.sha256) for name, f in files
    ]
    for name, value in (fields or {}).items():
        parts.append(PartSummary(name, None, None, len(value.encode()), None, value))
    return parts
