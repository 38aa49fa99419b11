"""The HTTP client against real tiny servers on 127.0.0.1: headers, multipart, timeouts, media.

Every server here is started by this module on 127.0.0.1 and stopped at the end of its test.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.client import REDACTED, ApiClient
from harness.errors import TransportFailure
from harness.exchange import Exchange, PartSummary
from harness.payload import FileToSend

TOKEN_A = "tokA-1d8e5c3b9f2a7064"
TOKEN_B = "tokB-6a0f3e9d2c8b1475"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\r\n--\xff" * 40  # CRLFs and dashes inside, on purpose
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) + b"\xff\xd9"
NOT_AUTHENTICATED = b'{"detail": "Not authenticated"}'
TIMEOUT = 0.5


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Answerer = Callable[[Seen], Answer | None]  # None: hold the connection and never answer


class Handler(BaseHTTPRequestHandler):
    server: Target

    def _serve(self) -> None:
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                    self._body())  # fmt: skip
        self.server.seen.append(seen)
        answer = self.server.answerer(seen)
        if answer is None:
            self.server.release.wait(10)
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: object) -> None:
        pass  # the tests read `seen`; stderr stays quiet


class Target(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answerer: Answerer):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answerer = answerer
        self.seen: list[Seen] = []
        self.release = threading.Event()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # httpx honours proxy variables; traffic here must go straight to 127.0.0.1.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve():
    started: list[tuple[Target, threading.Thread]] = []

    def start(answerer: Answerer) -> Target:
        target = Target(answerer)
        thread = threading.Thread(target=target.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((target, thread))
        return target

    yield start
    for target, thread in started:
        target.release.set()
        target.shutdown()
        target.server_close()
        thread.join(5)


@pytest.fixture
def client_for():
    clients: list[ApiClient] = []

    def make(target: Target, timeout: float = 5.0) -> ApiClient:
        client = ApiClient(target.origin + "/api/v1/", {"A": TOKEN_A, "B": TOKEN_B}, timeout)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def ok(seen: Seen) -> Answer:
    return Answer(200, b"[]", (("Content-Type", "application/json"),))


def multipart(seen: Seen) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, bytes) of each part, read straight off the wire."""
    content_type = seen.headers.get("content-type", "")
    assert content_type.startswith("multipart/form-data; boundary="), (
        f"request body type: received {content_type!r}, expected multipart/form-data"
    )
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    parts = []
    for chunk in seen.body.split(b"--" + boundary)[1:-1]:
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        headers = {k.lower(): v for k, v in headers.items()}
        disposition = headers["content-disposition"]
        name = re.search(r'; name="([^"]*)"', disposition).group(1)
        filename = re.search(r'; filename="([^"]*)"', disposition)
        parts.append((name, filename and filename.group(1), headers.get("content-type"),
                      content.removesuffix(b"\r\n")))  # fmt: skip
    return parts


# Tokens: sent to the server, never recorded.


def test_the_users_token_reaches_the_server_and_is_redacted_in_the_record(serve, client_for):
    target = serve(ok)
    client = client_for(target)
    recorded: list[Exchange] = []
    client.listeners.append(recorded.append)

    reply = client.send("GET", client.url("storage/images"), user="A")

    assert [s.headers.get("authorization") for s in target.seen] == [f"Bearer {TOKEN_A}"]
    assert [(s.method, s.path) for s in target.seen] == [("GET", "/api/v1/storage/images")]
    assert reply.exchange.request_headers == {"Authorization": REDACTED}
    assert TOKEN_A not in repr(reply.exchange)
    assert (reply.status, reply.body, reply.exchange.user) == (200, b"[]", "A")
    assert reply.request == f"GET {target.origin}/api/v1/storage/images as user A"
    assert reply.exchange.response_headers["content-type"] == "application/json"
    assert reply.exchange.elapsed_seconds is not None and reply.exchange.elapsed_seconds >= 0
    assert recorded == [reply.exchange]


def test_an_overriding_token_is_sent_and_redacted_too(serve, client_for):
    target = serve(ok)
    client = client_for(target)

    reply = client.send("GET", client.url("storage/images"), user="A", token="not-a-real-token")

    assert target.seen[0].headers.get("authorization") == "Bearer not-a-real-token"
    assert reply.exchange.request_headers == {"Authorization": REDACTED}


def test_without_a_user_no_authorization_header_is_sent(serve, client_for):
    target = serve(ok)
    client = client_for(target)

    reply = client.send("GET", client.url("storage/images"), user=None)

    assert "authorization" not in target.seen[0].headers
    assert reply.exchange.request_headers == {}
    assert reply.request == f"GET {target.origin}/api/v1/storage/images without a user's token"


# What travels in the body.


def test_files_and_fields_travel_as_multipart_and_are_summarised(serve, client_for):
    target = serve(ok)
    client = client_for(target)
    # The second file streams from pieces, as the 20 MB boundary files do.
    pieces = [(JPEG[:100], 1), (JPEG[100:], 1)]
    files = [
        ("files", FileToSend("beach.png", "image/png", "png", data=PNG)),
        ("files", FileToSend("forest.jpg", "image/jpeg", "jpeg", layout=pieces)),
    ]

    reply = client.send(
        "POST", client.url("storage/images"), user="A", files=files, fields={"title": "Été"}
    )

    assert multipart(target.seen[0]) == [
        ("files", "beach.png", "image/png", PNG),
        ("files", "forest.jpg", "image/jpeg", JPEG),
        ("title", None, None, "Été".encode()),
    ]
    assert reply.exchange.parts == [
        PartSummary("files", "beach.png", "image/png", 248, hashlib.sha256(PNG).hexdigest()),
        PartSummary("files", "forest.jpg", "image/jpeg", 262, hashlib.sha256(JPEG).hexdigest()),
        PartSummary("title", None, None, 5, None, "Été"),
    ]


def test_plain_fields_alone_still_travel_as_multipart(serve, client_for):
    target = serve(ok)
    client = client_for(target)

    reply = client.send("PUT", client.url("storage/image/abc"), user="A", fields={"title": "Sea"})

    assert multipart(target.seen[0]) == [("title", None, None, b"Sea")]
    assert reply.exchange.parts == [PartSummary("title", None, None, 3, None, "Sea")]


def test_a_json_body_is_sent_and_recorded(serve, client_for):
    target = serve(ok)
    client = client_for(target)

    reply = client.send("PUT", client.url("storage/images/order"), user="A",
                        json_body={"order": ["x", "y"]})  # fmt: skip

    assert json.loads(target.seen[0].body) == {"order": ["x", "y"]}
    assert target.seen[0].headers["content-type"] == "application/json"
    assert (reply.exchange.json_body, reply.exchange.parts) == ({"order": ["x", "y"]}, [])


def test_raw_content_is_sent_with_its_declared_type(serve, client_for):
    target = serve(ok)
    client = client_for(target)

    reply = client.send("PUT", client.url("storage/images/order"), user="A",
                        content=b"{not json", content_type="application/json")  # fmt: skip

    assert (target.seen[0].body, target.seen[0].headers["content-type"]) == (
        b"{not json",
        "application/json",
    )
    assert reply.exchange.request_headers == {
        "Authorization": REDACTED,
        "Content-Type": "application/json",
    }


# No answer at all.


def test_a_server_that_never_answers_fails_after_the_timeout(serve, client_for):
    target = serve(lambda seen: None)
    client = client_for(target, timeout=TIMEOUT)
    recorded: list[Exchange] = []
    client.listeners.append(recorded.append)
    url = client.url("storage/images")

    started = time.perf_counter()
    with pytest.raises(TransportFailure) as caught:
        client.send("GET", url, user="A")
    waited = time.perf_counter() - started

    assert str(caught.value) == f"GET {url} as user A: no answer within 0.5 s (STRETCH_TIMEOUT)"
    assert caught.value.request == f"GET {url} as user A"
    assert 0.4 <= waited < 3.0, f"waited {waited:.2f} s for a 0.5 s timeout"
    assert [(e.status, e.error) for e in recorded] == [
        (None, "no answer within 0.5 s (STRETCH_TIMEOUT)")
    ]
    assert len(target.seen) == 1


def test_a_refused_connection_is_a_transport_failure():
    # A socket bound but not listening: connecting to it is refused at once.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{closed.getsockname()[1]}/api/v1"
        client = ApiClient(base, {"A": TOKEN_A}, TIMEOUT)
        try:
            with pytest.raises(TransportFailure) as caught:
                client.send("GET", client.url("storage/images"), user="A")
        finally:
            client.close()

    message = str(caught.value)
    assert message.startswith(f"GET {base}/storage/images as user A: transport error: ConnectError: ")
    assert caught.value.reason.startswith("transport error: ConnectError: ")
    assert TOKEN_A not in message


# Media: the token goes to the API's own origin only.


def api_media(seen: Seen) -> Answer:
    authorised = seen.headers.get("authorization") == f"Bearer {TOKEN_A}"
    if seen.path == "/media/public.png":
        return Answer(200, PNG)
    if seen.path == "/media/private.png":
        return Answer(200, PNG) if authorised else Answer(401, NOT_AUTHENTICATED)
    if seen.path == "/media/forbidden.png":
        return Answer(200, PNG) if authorised else Answer(403, b'{"detail": "Forbidden"}')
    return Answer(404, b'{"detail": "Not Found"}')


def always_401(seen: Seen) -> Answer:
    return Answer(401, NOT_AUTHENTICATED)


def authorizations(target: Target) -> list[str | None]:
    return [s.headers.get("authorization") for s in target.seen]


@pytest.mark.parametrize("path", ["/media/private.png", "/media/forbidden.png"])
def test_media_on_the_api_origin_is_fetched_again_with_the_token(serve, client_for, path):
    api = serve(api_media)
    client = client_for(api)

    reply = client.fetch_media(path, "A", public=False)

    assert authorizations(api) == [None, f"Bearer {TOKEN_A}"]
    assert (reply.status, reply.body, reply.exchange.user) == (200, PNG, "A")
    assert reply.exchange.request_headers == {"Authorization": REDACTED}


def test_public_media_is_fetched_once_without_the_token(serve, client_for):
    api = serve(api_media)
    client = client_for(api)

    reply = client.fetch_media(f"{api.origin}/media/public.png", "A", public=False)

    assert authorizations(api) == [None]
    assert (reply.status, reply.exchange.user) == (200, None)


def test_media_declared_public_is_not_retried_with_the_token(serve, client_for):
    api = serve(api_media)
    client = client_for(api)

    reply = client.fetch_media("/media/private.png", "A", public=True)

    assert authorizations(api) == [None]
    assert reply.status == 401


def test_missing_media_is_not_retried(serve, client_for):
    api = serve(api_media)
    client = client_for(api)

    reply = client.fetch_media("/media/gone.png", "A", public=False)

    assert authorizations(api) == [None]
    assert reply.status == 404


def test_media_on_another_origin_never_receives_the_token(serve, client_for):
    api = serve(api_media)
    other = serve(always_401)
    client = client_for(api)

    reply = client.fetch_media(f"{other.origin}/media/private.png", "A", public=False)

    assert authorizations(other) == [None]
    assert api.seen == []
    assert (reply.status, reply.exchange.user) == (401, None)
    assert reply.request == f"GET {other.origin}/media/private.png without a user's token"


def test_a_redirect_to_another_origin_is_not_followed(serve, client_for):
    other = serve(always_401)
    api = serve(lambda seen: Answer(302, b"", (("Location", f"{other.origin}/x.png"),)))
    client = client_for(api)

    reply = client.fetch_media("/media/moved.png", "A", public=False)

    assert (reply.status, other.seen) == (302, [])
    assert authorizations(api) == [None]


def test_same_origin_compares_scheme_host_and_port_only():
    client = ApiClient("http://127.0.0.1:8000/api/v1", {"A": TOKEN_A}, TIMEOUT)
    try:
        verdicts = [
            client.same_origin("http://127.0.0.1:8000/media/a.png"),
            client.same_origin("https://127.0.0.1:8000/media/a.png"),
            client.same_origin("http://127.0.0.1:8001/media/a.png"),
            client.same_origin("http://127.0.0.2:8000/media/a.png"),
        ]
    finally:
        client.close()

    assert verdicts == [True, False, False, False]
