"""The reference server, over real HTTP on 127.0.0.1: every call, every refusal, some faults."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from reference_server.config import ServerConfig
from reference_server.faults import FAULTS, UnknownFault, describe_faults
from reference_server.launcher import RunningServer, start_server

ALICE, BOB = "alice-token-for-tests", "bob-token-for-tests"
TOKENS = {ALICE: "alice", BOB: "bob"}
LIMIT = 20 * 1_048_576
PROJECT = Path(__file__).resolve().parents[1]
FILEBASE_KEYS = {
    "title", "description", "contentType", "id", "originFilename", "url", "thumb", "filesize",
    "status",
}


# ---- images, made here with Pillow -------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 255, 0)).save(out, format="GIF")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def padded_png(total_size: int) -> bytes:
    """A valid PNG of exactly `total_size` bytes, padded with a private ancillary chunk."""
    base = png_bytes((8, 8))
    body, iend = base[:-12], base[-12:]
    padding = total_size - len(base) - 12
    assert padding >= 0, f"cannot pad a {len(base)}-byte PNG to {total_size} bytes"
    padded = body + png_chunk(b"prVt", b"\0" * padding) + iend
    assert len(padded) == total_size
    return padded


# ---- servers and clients ----------------------------------------------------------------------


@contextmanager
def running(data_dir: Path, faults: tuple[str, ...] = ()) -> Iterator[RunningServer]:
    server = start_server(data_dir, TOKENS, faults=faults)
    try:
        yield server
    finally:
        server.stop()


def client(server: RunningServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # trust_env=False: a proxy from the environment must never see this traffic.
    return httpx.Client(base_url=server.base_url, headers=headers, trust_env=False, timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running(tmp_path_factory.mktemp("reference-data")) as started:
        yield started


@pytest.fixture(scope="module")
def alice(server: RunningServer) -> Iterator[httpx.Client]:
    with client(server, ALICE) as api:
        yield api


@pytest.fixture(scope="module")
def bob(server: RunningServer) -> Iterator[httpx.Client]:
    with client(server, BOB) as api:
        yield api


@pytest.fixture(scope="module")
def anonymous(server: RunningServer) -> Iterator[httpx.Client]:
    with client(server, None) as api:
        yield api


@pytest.fixture(autouse=True)
def empty_galleries(request: pytest.FixtureRequest) -> None:
    """Tests on the shared server start with both galleries empty."""
    if "server" not in request.fixturenames:
        return
    for api in (request.getfixturevalue("alice"), request.getfixturevalue("bob")):
        for image in api.get("/storage/images").json():
            api.delete(f"/storage/image/{image['id']}")


# ---- small helpers that keep the tests readable -------------------------------------------------


def expect(response: httpx.Response, status: int, body: Any = ...) -> Any:
    """Assert the status (and the body, when given) and return the JSON body."""
    request = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, (
        f"status of {request}: received {response.status_code} {response.text[:300]!r}, "
        f"expected {status}"
    )
    received = response.json()
    if body is not ...:
        assert received == body, f"body of {request}: received {received!r}, expected {body!r}"
    return received


def upload(
    api: httpx.Client, content: bytes, name: str = "photo.png", **form: str
) -> httpx.Response:
    return api.post("/storage/image", files={"file": (name, content, "image/png")}, data=form)


def uploaded(api: httpx.Client, content: bytes | None = None, name: str = "photo.png") -> dict:
    return expect(upload(api, content or png_bytes(), name), 200)


def gallery_ids(api: httpx.Client) -> list[str]:
    return [image["id"] for image in expect(api.get("/storage/images"), 200)]


def fetch(url: str) -> httpx.Response:
    """A media URL, fetched without any token."""
    return httpx.get(url, trust_env=False, timeout=30)


def missing(field: str) -> dict:
    return {"detail": [{"type": "missing", "loc": ["body", field], "msg": "Field required",
                        "input": None}]}


def bad_uuid(value: str, location: list, why: str) -> dict:
    return {"detail": [{
        "type": "uuid_parsing",
        "loc": location,
        "msg": f"Input should be a valid UUID, {why}",
        "input": value,
        "ctx": {"error": why},
    }]}


UNSUPPORTED = "not a complete PNG or JPEG image; only png and jpg are accepted."
NOT_FOUND = {"detail": "Image not found."}


# ---- upload one --------------------------------------------------------------------------------


def test_upload_answers_a_complete_filebase(server: RunningServer, alice: httpx.Client) -> None:
    content = png_bytes()

    body = expect(upload(alice, content, "sunset.png", title="Sunset"), 200)

    assert set(body) == FILEBASE_KEYS, f"FileBase keys: received {sorted(body)}"
    media = f"{server.origin}/media/{body['id']}"
    assert body == {
        "title": "Sunset",
        "description": None,
        "contentType": "image/png",
        "id": str(uuid.UUID(body["id"])),
        "originFilename": "sunset.png",
        "url": media,
        "thumb": f"{media}/thumb",
        "filesize": len(content),
        "status": "approved",
    }


def test_upload_without_title_has_null_title(alice: httpx.Client) -> None:
    assert uploaded(alice)["title"] is None


def test_jpeg_is_reported_as_image_jpeg(alice: httpx.Client) -> None:
    assert uploaded(alice, jpeg_bytes(), "p.jpg")["contentType"] == "image/jpeg"


def test_url_serves_the_exact_bytes_without_a_token(alice: httpx.Client) -> None:
    content = jpeg_bytes((300, 200))
    body = uploaded(alice, content, "p.jpg")

    image = fetch(body["url"])

    assert (image.status_code, image.headers["content-type"]) == (200, "image/jpeg")
    assert image.content == content, "url bytes differ from the uploaded bytes"


def test_thumb_is_a_small_image_without_a_token(alice: httpx.Client) -> None:
    body = uploaded(alice, png_bytes((1000, 500)))

    thumb = fetch(body["thumb"])

    assert (thumb.status_code, thumb.headers["content-type"]) == (200, "image/png")
    with Image.open(io.BytesIO(thumb.content)) as picture:
        assert (picture.format, picture.size) == ("PNG", (256, 128))


def test_origin_filename_round_trips_quotes_and_non_ascii(alice: httpx.Client) -> None:
    name = 'my "best" photo – čaj.png'

    body = uploaded(alice, png_bytes(), name)

    assert body["originFilename"] == name


def test_origin_filename_from_rfc5987_filename_star(alice: httpx.Client) -> None:
    content = png_bytes()
    raw = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="fallback.png"; '
        b"filename*=UTF-8''na%C3%AFve%20%22q%22.png\r\nContent-Type: image/png\r\n\r\n"
        + content + b"\r\n--XyZ--\r\n"
    )

    response = alice.post(
        "/storage/image",
        content=raw,
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )

    assert expect(response, 200)["originFilename"] == 'naïve "q".png'


def test_title_is_stored_exactly_as_sent(alice: httpx.Client) -> None:
    title = 'Čaj "☕" — 東京 '

    assert expect(upload(alice, png_bytes(), title=title), 200)["title"] == title


def test_upload_without_file_is_a_validation_error(alice: httpx.Client) -> None:
    expect(alice.post("/storage/image", data={"title": "x"}), 422, missing("file"))


def test_empty_file_is_refused(alice: httpx.Client) -> None:
    expect(upload(alice, b"", "e.png"), 400, {"detail": "File 'e.png' is empty."})


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("anim.png", gif_bytes()),
        ("notes.png", b"just some text, not an image\n" * 10),
        ("cut.png", png_bytes((400, 400))[:200]),
        ("cut.jpg", jpeg_bytes((400, 400))[:-300]),
    ],
    ids=["gif_named_png", "text_named_png", "truncated_png", "truncated_jpeg"],
)
def test_not_a_png_or_jpeg_is_refused(alice: httpx.Client, name: str, content: bytes) -> None:
    expect(upload(alice, content, name), 415, {"detail": f"File {name!r}: {UNSUPPORTED}"})

    assert gallery_ids(alice) == []


def test_type_ignores_file_name_and_declared_type(alice: httpx.Client) -> None:
    files = {"file": ("holiday.gif", png_bytes(), "text/plain")}

    body = expect(alice.post("/storage/image", files=files), 200)

    assert (body["contentType"], body["originFilename"]) == ("image/png", "holiday.gif")


def test_exactly_the_limit_is_accepted(alice: httpx.Client) -> None:
    body = uploaded(alice, padded_png(LIMIT), "limit.png")

    assert body["filesize"] == LIMIT


def test_one_byte_over_the_limit_is_refused(alice: httpx.Client) -> None:
    detail = (
        "File 'over.png' is larger than the limit of 20971520 bytes "
        "(20 MB read as 20 x 1,048,576)."
    )

    expect(upload(alice, padded_png(LIMIT + 1), "over.png"), 413, {"detail": detail})

    assert gallery_ids(alice) == []


# ---- list and order ----------------------------------------------------------------------------


def test_empty_gallery_is_an_empty_list(alice: httpx.Client) -> None:
    expect(alice.get("/storage/images"), 200, [])


def test_new_uploads_land_at_the_end(alice: httpx.Client) -> None:
    ids = [uploaded(alice)["id"] for _ in range(3)]

    assert gallery_ids(alice) == ids


def test_list_shows_only_the_users_own_images(alice: httpx.Client, bob: httpx.Client) -> None:
    mine = uploaded(alice)["id"]
    uploaded(bob)

    assert gallery_ids(alice) == [mine]


def test_reorder_is_echoed_and_kept(alice: httpx.Client) -> None:
    first, second, third = (uploaded(alice)["id"] for _ in range(3))
    wanted = [third, first, second]

    expect(alice.put("/storage/images/order", json={"order": wanted}), 200, {"order": wanted})

    assert gallery_ids(alice) == wanted


def test_empty_order_on_empty_gallery_is_fine(alice: httpx.Client) -> None:
    expect(alice.put("/storage/images/order", json={"order": []}), 200, {"order": []})


@pytest.mark.parametrize("case", ["left_out", "duplicate", "unknown", "foreign", "empty"])
def test_bad_order_is_refused_and_changes_nothing(
    alice: httpx.Client, bob: httpx.Client, case: str
) -> None:
    first, second = uploaded(alice)["id"], uploaded(alice)["id"]
    stranger = str(uuid.uuid4())
    foreign = uploaded(bob)["id"]
    left_out = (
        "The order must list every image of your gallery exactly once; "
        f"it leaves out 1: {first}."
    )
    order, detail = {
        "left_out": ([second], left_out),
        "duplicate": ([second, first, second], f"The order names image {second} more than once."),
        "unknown": (
            [second, first, stranger],
            f"The order names {stranger}, which is not an image of your gallery.",
        ),
        "foreign": (
            [second, first, foreign],
            f"The order names {foreign}, which is not an image of your gallery.",
        ),
        "empty": (
            [],
            "The order must list every image of your gallery exactly once; "
            f"it leaves out 2: {first}, {second}.",
        ),
    }[case]

    expect(alice.put("/storage/images/order", json={"order": order}), 400, {"detail": detail})

    assert gallery_ids(alice) == [first, second]


def test_malformed_order_id_is_a_validation_error(alice: httpx.Client) -> None:
    response = alice.put("/storage/images/order", json={"order": ["not-a-uuid"]})

    expect(response, 422, bad_uuid(
        "not-a-uuid", ["body", "order", 0], "invalid character: found `n` at 0"
    ))


def test_order_body_without_order_is_a_validation_error(alice: httpx.Client) -> None:
    expect(alice.put("/storage/images/order", json={"ids": []}), 422, {"detail": [{
        "type": "missing", "loc": ["body", "order"], "msg": "Field required", "input": {"ids": []},
    }]})


def test_order_body_that_is_not_json_is_a_validation_error(alice: httpx.Client) -> None:
    response = alice.put(
        "/storage/images/order", content=b"order=1", headers={"content-type": "application/json"}
    )

    expect(response, 422, {"detail": [{
        "type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {},
        "ctx": {"error": "Expecting value"},
    }]})


# ---- upload many -------------------------------------------------------------------------------


def test_batch_answers_files_in_the_order_sent(alice: httpx.Client) -> None:
    files = [("files", (f"{n}.png", png_bytes((10 + n, 10)), "image/png")) for n in range(3)]
    files.append(("files", ("3.jpg", jpeg_bytes(), "image/jpeg")))

    body = expect(alice.post("/storage/images", files=files), 200)

    assert [image["originFilename"] for image in body] == ["0.png", "1.png", "2.png", "3.jpg"]
    assert gallery_ids(alice) == [image["id"] for image in body]


def test_batch_with_one_bad_file_is_refused_whole(alice: httpx.Client) -> None:
    before = uploaded(alice)["id"]
    files = [
        ("files", ("good.png", png_bytes(), "image/png")),
        ("files", ("bad.png", b"GIF89a not really", "image/png")),
        ("files", ("also-good.png", png_bytes(), "image/png")),
    ]

    response = alice.post("/storage/images", files=files)

    expect(response, 415, {"detail": f"File 'bad.png': {UNSUPPORTED}"})
    assert gallery_ids(alice) == [before]


def test_batch_without_files_is_a_validation_error(alice: httpx.Client) -> None:
    expect(alice.post("/storage/images", data={"x": "y"}), 422, missing("files"))


# ---- update ------------------------------------------------------------------------------------


def test_update_title_keeps_everything_else(alice: httpx.Client) -> None:
    original = expect(upload(alice, png_bytes(), title="old"), 200)

    body = expect(alice.put(f"/storage/image/{original['id']}", data={"title": "new"}), 200)

    assert body == {**original, "title": "new"}


def test_update_file_replaces_bytes_and_keeps_id_and_place(alice: httpx.Client) -> None:
    first, middle, last = (uploaded(alice)["id"] for _ in range(3))
    new_content = jpeg_bytes((120, 90))

    response = alice.put(
        f"/storage/image/{middle}", files={"file": ("new.jpg", new_content, "image/jpeg")}
    )

    body = expect(response, 200)
    assert (body["id"], body["contentType"], body["originFilename"], body["filesize"]) == (
        middle, "image/jpeg", "new.jpg", len(new_content)
    )
    assert fetch(body["url"]).content == new_content
    assert fetch(body["thumb"]).headers["content-type"] == "image/jpeg"
    assert gallery_ids(alice) == [first, middle, last]


def test_update_with_bad_file_changes_nothing(alice: httpx.Client) -> None:
    content = png_bytes()
    original = expect(upload(alice, content, title="keep"), 200)

    response = alice.put(
        f"/storage/image/{original['id']}",
        files={"file": ("x.png", b"not an image", "image/png")},
        data={"title": "changed"},
    )

    expect(response, 415, {"detail": f"File 'x.png': {UNSUPPORTED}"})
    assert expect(alice.get("/storage/images"), 200) == [original]
    assert fetch(original["url"]).content == content


def test_update_unknown_or_foreign_image_is_not_found(
    alice: httpx.Client, bob: httpx.Client
) -> None:
    foreign = expect(upload(bob, png_bytes(), title="bob's"), 200)

    expect(alice.put(f"/storage/image/{uuid.uuid4()}", data={"title": "x"}), 404, NOT_FOUND)
    expect(alice.put(f"/storage/image/{foreign['id']}", data={"title": "x"}), 404, NOT_FOUND)

    assert expect(bob.get("/storage/images"), 200) == [foreign]


def test_update_malformed_id_is_a_validation_error(alice: httpx.Client) -> None:
    response = alice.put("/storage/image/12345", data={"title": "x"})

    expect(response, 422, bad_uuid("12345", ["path", "image_id"], "invalid length: found 5"))


# ---- delete ------------------------------------------------------------------------------------


def test_delete_removes_image_from_gallery_order_and_media(alice: httpx.Client) -> None:
    first, doomed, last = (uploaded(alice) for _ in range(3))

    expect(alice.delete(f"/storage/image/{doomed['id']}"), 200, {"status": "success"})

    assert gallery_ids(alice) == [first["id"], last["id"]]
    assert fetch(doomed["url"]).status_code == 404
    wanted = [last["id"], first["id"]]
    expect(alice.put("/storage/images/order", json={"order": wanted}), 200, {"order": wanted})


def test_delete_twice_is_not_found(alice: httpx.Client) -> None:
    image_id = uploaded(alice)["id"]
    expect(alice.delete(f"/storage/image/{image_id}"), 200, {"status": "success"})

    expect(alice.delete(f"/storage/image/{image_id}"), 404, NOT_FOUND)


def test_delete_foreign_image_is_not_found(alice: httpx.Client, bob: httpx.Client) -> None:
    foreign = uploaded(bob)["id"]

    expect(alice.delete(f"/storage/image/{foreign}"), 404, NOT_FOUND)

    assert gallery_ids(bob) == [foreign]


def test_delete_malformed_id_is_a_validation_error(alice: httpx.Client) -> None:
    response = alice.delete("/storage/image/zzz")

    why = "invalid character: found `z` at 0"
    expect(response, 422, bad_uuid("zzz", ["path", "image_id"], why))


# ---- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/storage/images"),
        ("POST", "/storage/image"),
        ("POST", "/storage/images"),
        ("PUT", "/storage/images/order"),
        ("PUT", f"/storage/image/{uuid.uuid4()}"),
        ("DELETE", f"/storage/image/{uuid.uuid4()}"),
    ],
)
def test_every_call_needs_a_token(anonymous: httpx.Client, method: str, path: str) -> None:
    response = anonymous.request(method, path)

    expect(response, 401, {"detail": "Not authenticated"})
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_token_is_refused(server: RunningServer) -> None:
    with client(server, "not-a-known-token") as stranger:
        response = stranger.get("/storage/images")

    expect(response, 401, {"detail": "Invalid bearer token"})
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_is_checked_before_the_body(anonymous: httpx.Client, alice: httpx.Client) -> None:
    response = anonymous.post(
        "/storage/image",
        content=b"\x00 this is no multipart body",
        headers={"content-type": "multipart/form-data; boundary=nothing"},
    )

    expect(response, 401, {"detail": "Not authenticated"})
    assert gallery_ids(alice) == []


# ---- the server around the API -----------------------------------------------------------------


def test_openapi_documents_the_six_calls_and_filebase(server: RunningServer) -> None:
    document = expect(httpx.get(f"{server.origin}/openapi.json", trust_env=False), 200)

    calls = {
        (method.upper(), path)
        for path, methods in document["paths"].items()
        if path.startswith("/api/v1/")
        for method in methods
    }
    assert calls == {
        ("POST", "/api/v1/storage/image"),
        ("GET", "/api/v1/storage/images"),
        ("POST", "/api/v1/storage/images"),
        ("PUT", "/api/v1/storage/images/order"),
        ("PUT", "/api/v1/storage/image/{image_id}"),
        ("DELETE", "/api/v1/storage/image/{image_id}"),
    }
    assert set(document["components"]["schemas"]["FileBase"]["properties"]) == FILEBASE_KEYS


def test_health_and_stats(server: RunningServer, alice: httpx.Client) -> None:
    health = httpx.get(f"{server.origin}/__reference/health", trust_env=False)
    expect(health, 200, {"status": "ok"})
    before = server.stats()

    for _ in range(3):
        alice.get("/storage/images")

    after = server.stats()
    assert after["requests"] - before["requests"] == 3, f"stats: {before} then {after}"
    assert after["busy_seconds"] > before["busy_seconds"]


def test_restart_keeps_images_and_order(tmp_path: Path) -> None:
    with running(tmp_path) as first_run, client(first_run, ALICE) as api:
        ids = [uploaded(api, png_bytes((20 + n, 20)))["id"] for n in range(3)]
        expect(api.put("/storage/images/order", json={"order": ids[::-1]}), 200)
        listed = expect(api.get("/storage/images"), 200)

    with running(tmp_path) as second_run, client(second_run, ALICE) as api:
        relisted = expect(api.get("/storage/images"), 200)
        served = fetch(relisted[0]["url"])

    assert [image["id"] for image in relisted] == ids[::-1]
    assert [{**image, "url": "", "thumb": ""} for image in relisted] == [
        {**image, "url": "", "thumb": ""} for image in listed
    ]
    assert served.content == png_bytes((22, 20))
    assert (tmp_path / "gallery.sqlite3").is_file()


def test_server_is_ready_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    with running(tmp_path):
        ready = time.monotonic() - started

    assert ready <= 1.5, f"ready after {ready:.2f} s, expected at most 1.5 s"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_server", *args],
        cwd=PROJECT, capture_output=True, text=True, timeout=30, env=env,
    )


def test_list_faults_prints_the_catalogue() -> None:
    result = run_cli("--list-faults")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == describe_faults()
    assert len(FAULTS) == 38


def test_config_knows_every_fault_and_refuses_others(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path, tokens=TOKENS, faults=frozenset(FAULTS))

    assert all(config.fault(name) for name in FAULTS)
    with pytest.raises(KeyError, match="not in the catalogue"):
        config.fault("title_droped")
    with pytest.raises(UnknownFault, match="unknown fault 'title_droped'"):
        ServerConfig(data_dir=tmp_path, tokens=TOKENS, faults=frozenset({"title_droped"}))


def test_unknown_fault_stops_start_up(tmp_path: Path) -> None:
    result = run_cli("--port", "0", "--data-dir", str(tmp_path), "--fault", "no_such_fault")

    assert result.returncode == 2
    assert "unknown fault 'no_such_fault'" in result.stderr, result.stderr
    with pytest.raises(RuntimeError, match="unknown fault 'no_such_fault'"):
        start_server(tmp_path, TOKENS, faults=["no_such_fault"])


def test_tokens_are_generated_and_printed_when_none_are_given(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "STRETCH_REF_TOKENS"}
    command = [sys.executable, "-m", "reference_server", "--port", "0"]
    command += ["--data-dir", str(tmp_path)]
    process = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        tokens_line, listening_line = process.stdout.readline(), process.stdout.readline()
        users = dict(pair.split("=", 1) for pair in tokens_line.split()[1:])
        origin = listening_line.split()[-1]
        listed = httpx.get(
            f"{origin}/api/v1/storage/images",
            headers={"Authorization": f"Bearer {users['bob']}"},
            trust_env=False,
        )
    finally:
        process.terminate()
        process.wait(10)

    assert tokens_line.startswith("tokens: alice=") and sorted(users) == ["alice", "bob"]
    assert listening_line.startswith("reference server listening on http://127.0.0.1:")
    expect(listed, 200, [])


# ---- faults change what the server does --------------------------------------------------------


@contextmanager
def faulty(tmp_path: Path, fault: str) -> Iterator[tuple[RunningServer, httpx.Client]]:
    with running(tmp_path, (fault,)) as started, client(started, ALICE) as api:
        yield started, api


def test_fault_title_dropped(tmp_path: Path) -> None:
    with faulty(tmp_path, "title_dropped") as (_, api):
        assert expect(upload(api, png_bytes(), title="kept?"), 200)["title"] is None


def test_fault_wrong_content_type(tmp_path: Path) -> None:
    with faulty(tmp_path, "wrong_content_type") as (_, api):
        assert uploaded(api, jpeg_bytes(), "p.jpg")["contentType"] == "image/png"


def test_fault_size_limit_one_byte_short(tmp_path: Path) -> None:
    with faulty(tmp_path, "size_limit_one_byte_short") as (_, api):
        assert upload(api, padded_png(LIMIT)).status_code == 413


def test_fault_order_accepts_duplicates(tmp_path: Path) -> None:
    with faulty(tmp_path, "order_accepts_duplicates") as (_, api):
        first, second = uploaded(api)["id"], uploaded(api)["id"]
        order = [second, first, second]

        expect(api.put("/storage/images/order", json={"order": order}), 200, {"order": order})
        assert gallery_ids(api) == [second, first]


def test_fault_delete_wrong_body(tmp_path: Path) -> None:
    with faulty(tmp_path, "delete_wrong_body") as (_, api):
        image_id = uploaded(api)["id"]

        expect(api.delete(f"/storage/image/{image_id}"), 200, {"status": "deleted"})


def test_fault_empty_gallery_null(tmp_path: Path) -> None:
    with faulty(tmp_path, "empty_gallery_null") as (_, api):
        expect(api.get("/storage/images"), 200, None)


def test_fault_crash_on_malformed_id(tmp_path: Path) -> None:
    with faulty(tmp_path, "crash_on_malformed_id") as (_, api):
        expect(api.delete("/storage/image/zzz"), 500, {"detail": "Internal server error"})


def test_fault_id_not_uuid(tmp_path: Path) -> None:
    with faulty(tmp_path, "id_not_uuid") as (_, api):
        image_id = uploaded(api)["id"]

        assert image_id == "img-1"
        expect(api.delete(f"/storage/image/{image_id}"), 200, {"status": "success"})


def test_fault_type_by_filename(tmp_path: Path) -> None:
    with faulty(tmp_path, "type_by_filename") as (_, api):
        assert uploaded(api, gif_bytes(), "fake.png")["contentType"] == "image/png"
        assert upload(api, png_bytes(), "real.gif").status_code == 415


def test_fault_list_ignores_order(tmp_path: Path) -> None:
    with faulty(tmp_path, "list_ignores_order") as (_, api):
        first, second = uploaded(api)["id"], uploaded(api)["id"]
        expect(api.put("/storage/images/order", json={"order": [second, first]}), 200)

        assert gallery_ids(api) == [first, second]


def test_fault_no_token_check_on_delete(tmp_path: Path) -> None:
    with faulty(tmp_path, "no_token_check_on_delete") as (server, api):
        image_id = uploaded(api)["id"]
        with client(server, None) as anonymous:
            expect(anonymous.delete(f"/storage/image/{image_id}"), 200, {"status": "success"})

        assert gallery_ids(api) == []


def test_fault_hang_on_list_leaves_the_server_responsive(tmp_path: Path) -> None:
    with faulty(tmp_path, "hang_on_list") as (server, api):
        with pytest.raises(httpx.ReadTimeout):
            api.get("/storage/images", timeout=0.5)
        expect(httpx.get(f"{server.origin}/__reference/health", trust_env=False), 200)
        stopping = time.monotonic()
        server.stop()

    assert time.monotonic() - stopping < 4, "the server took too long to shut down"
    assert server.process.returncode != -9, "the server had to be killed"
