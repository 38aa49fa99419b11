"""The reference server under hostile input: always a 4xx, bounded memory, no lost IDs."""

from __future__ import annotations

import io
import random
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from reference_server.launcher import RunningServer, start_server

ALICE = "alice-token-for-hardening"
TOKENS = {ALICE: "alice", "bob-token-for-hardening": "bob"}
MULTIPART_B = {"content-type": "multipart/form-data; boundary=b"}
PNG_PART_HEAD = (
    b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    b"Content-Type: image/png\r\n\r\n"
)


def png_bytes(size: tuple[int, int] = (24, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_blank_png(width: int, height: int) -> bytes:
    """A 1-bit PNG whose rows are all zero: enormous in pixels, tiny in bytes."""
    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    data = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    started = start_server(tmp_path_factory.mktemp("hardening-data"), TOKENS)
    yield started
    tail = started.stderr_tail()
    started.stop()
    assert "Traceback" not in tail, f"the server logged an unhandled error:\n{tail}"


@pytest.fixture(scope="module")
def alice(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ALICE}"}
    with httpx.Client(
        base_url=server.base_url, headers=headers, trust_env=False, timeout=60
    ) as api:
        yield api


@pytest.fixture(autouse=True)
def empty_gallery(alice: httpx.Client) -> None:
    """Each test starts with alice's gallery on the shared server empty."""
    for image in alice.get("/storage/images").json():
        alice.delete(f"/storage/image/{image['id']}")


def expect(response: httpx.Response, status: int, detail: object) -> None:
    request = f"{response.request.method} {response.request.url}"
    assert (response.status_code, response.json()) == (status, {"detail": detail}), (
        f"answer to {request}: received {response.status_code} {response.text[:300]!r}, "
        f"expected {status} with detail {detail!r}"
    )


def gallery_ids(api: httpx.Client) -> list[str]:
    response = api.get("/storage/images")
    assert response.status_code == 200, response.text
    return [image["id"] for image in response.json()]


MALFORMED = {
    "no_boundary": (
        "multipart/form-data", PNG_PART_HEAD + png_bytes() + b"\r\n--b--\r\n",
        "The multipart body has no boundary in its Content-Type.",
    ),
    "wrong_boundary": (
        "multipart/form-data; boundary=other", PNG_PART_HEAD + png_bytes() + b"\r\n--b--\r\n",
        "The multipart body is malformed.",
    ),
    "truncated": (
        "multipart/form-data; boundary=b", PNG_PART_HEAD + png_bytes()[:40],
        "The multipart body ended before its closing boundary.",
    ),
    "no_part_headers": (
        "multipart/form-data; boundary=b", b"--b\r\n\r\nabc\r\n--b--\r\n",
        "A form part has no Content-Disposition header.",
    ),
    "no_field_name": (
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; filename="a.png"\r\n\r\nabc\r\n--b--\r\n',
        "A form part's Content-Disposition has no name.",
    ),
    "header_line_too_long": (
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
        + b"x" * 10_000 + b'"\r\n\r\nabc\r\n--b--\r\n',
        "The multipart body is malformed.",
    ),
    "binary_noise": (
        "multipart/form-data; boundary=b", bytes(range(256)) * 40,
        "The multipart body is malformed.",
    ),
    "boundary_too_long": (
        "multipart/form-data; boundary=" + "b" * 300, b"--" + b"b" * 300 + b"\r\n",
        "The multipart body is malformed.",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_multipart_is_a_400(alice: httpx.Client, case: str) -> None:
    content_type, body, detail = MALFORMED[case]

    response = alice.post("/storage/image", content=body, headers={"content-type": content_type})

    expect(response, 400, detail)
    assert gallery_ids(alice) == []


def test_title_that_is_not_utf8_is_a_422(alice: httpx.Client) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\n\xff\xfe\r\n'
        + PNG_PART_HEAD + png_bytes() + b"\r\n--b--\r\n"
    )

    response = alice.post("/storage/image", content=body, headers=MULTIPART_B)

    expect(response, 422, [{
        "type": "string_unicode",
        "loc": ["body", "title"],
        "msg": "Input should be a valid string, unable to parse raw data as a unicode string",
        "input": None,
    }])


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_upload_that_is_no_form_is_a_422(alice: httpx.Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = alice.post("/storage/image", content=b'{"file": "x"}', headers=headers)

    expect(response, 422, [
        {"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}
    ])


def test_five_megabyte_title_is_refused(alice: httpx.Client) -> None:
    response = alice.post(
        "/storage/image", files={"file": ("a.png", png_bytes())}, data={"title": "t" * 5_000_000}
    )

    expect(response, 413, "Field 'title' is longer than 65536 bytes.")
    assert gallery_ids(alice) == []


def test_two_thousand_tiny_files_are_refused(alice: httpx.Client) -> None:
    tiny = png_bytes((1, 1))
    files = [("files", (f"{n}.png", tiny, "image/png")) for n in range(2000)]

    response = alice.post("/storage/images", files=files)

    expect(response, 413, "The form has more than 50 files.")
    assert gallery_ids(alice) == []


def test_two_thousand_text_fields_are_refused(alice: httpx.Client) -> None:
    fields = {f"field{n}": "x" for n in range(2000)}

    response = alice.post("/storage/image", files={"file": ("a.png", png_bytes())}, data=fields)

    expect(response, 413, "The form has more than 64 parts.")


def test_decompression_bomb_is_refused_cheaply(alice: httpx.Client) -> None:
    bomb = huge_blank_png(60_000, 60_000)
    assert len(bomb) < 1_000_000, f"the bomb is {len(bomb)} bytes, expected under 1 MB"

    response = alice.post("/storage/image", files={"file": ("bomb.png", bomb, "image/png")})

    expect(
        response, 413,
        "File 'bomb.png': the image has too many pixels; at most 40000000 pixels are accepted.",
    )


def test_image_just_over_the_pixel_cap_is_refused(alice: httpx.Client) -> None:
    big = huge_blank_png(8000, 5001)

    response = alice.post("/storage/image", files={"file": ("big.png", big, "image/png")})

    expect(
        response, 413,
        "File 'big.png': the image has 8000x5001 pixels; at most 40000000 pixels are accepted.",
    )


NOT_JSON = {
    "garbage": ("application/json", b"\x00\xff{order", [{
        "type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {},
        "ctx": {"error": "Expecting value"},
    }]),
    "form_encoded": ("application/x-www-form-urlencoded", b"order=1", [{
        "type": "model_attributes_type", "loc": ["body"],
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "input": "order=1",
    }]),
    "empty": ("application/json", b"", [{
        "type": "missing", "loc": ["body"], "msg": "Field required", "input": None,
    }]),
    "order_not_a_list": ("application/json", b'{"order": "abc"}', [{
        "type": "list_type", "loc": ["body", "order"], "msg": "Input should be a valid list",
        "input": "abc",
    }]),
}


@pytest.mark.parametrize("case", list(NOT_JSON))
def test_order_body_that_is_no_order_is_a_422(alice: httpx.Client, case: str) -> None:
    content_type, body, detail = NOT_JSON[case]

    response = alice.put(
        "/storage/images/order", content=body, headers={"content-type": content_type}
    )

    expect(response, 422, detail)


def test_huge_order_body_is_refused(alice: httpx.Client) -> None:
    chunks = (b"[" * 100_000 for _ in range(30))

    response = alice.put(
        "/storage/images/order", content=chunks, headers={"content-type": "application/json"}
    )

    expect(response, 413, "The request body is larger than 1048576 bytes.")


def test_concurrent_uploads_and_reorders_lose_no_id(server: RunningServer) -> None:
    content = png_bytes()
    stored: list[str] = []
    failures: list[str] = []

    def upload() -> None:
        with _alice_client(server) as api:
            response = api.post("/storage/image", files={"file": ("c.png", content)})
            if response.status_code != 200:
                failures.append(f"upload: {response.status_code} {response.text}")
            else:
                stored.append(response.json()["id"])

    def reorder(seed: int) -> None:
        shuffle = random.Random(seed).shuffle
        with _alice_client(server) as api:
            for _ in range(8):
                order = gallery_ids(api)
                shuffle(order)
                response = api.put("/storage/images/order", json={"order": order})
                # A 400 is right when an upload landed between the list and the reorder.
                if response.status_code not in (200, 400):
                    failures.append(f"reorder: {response.status_code} {response.text}")

    workers = [threading.Thread(target=upload) for _ in range(50)]
    workers += [threading.Thread(target=reorder, args=(seed,)) for seed in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    with _alice_client(server) as api:
        final = gallery_ids(api)
    assert failures == []
    assert len(final) == len(set(final)) == 50, f"final order holds {len(final)} ids"
    assert sorted(final) == sorted(stored)


def _alice_client(server: RunningServer) -> httpx.Client:
    headers = {"Authorization": f"Bearer {ALICE}"}
    return httpx.Client(base_url=server.base_url, headers=headers, trust_env=False, timeout=60)


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM line in /proc/{pid}/status")


def test_refusing_a_200_megabyte_upload_keeps_memory_flat(tmp_path: Path) -> None:
    def body() -> Iterator[bytes]:
        yield PNG_PART_HEAD + png_bytes()
        block = b"\x5a" * 1_048_576
        for _ in range(200):
            yield block
        yield b"\r\n--b--\r\n"

    with start_server(tmp_path, TOKENS) as fresh, _alice_client(fresh) as api:
        response = api.post("/storage/image", content=body(), headers=MULTIPART_B)
        peak = peak_rss_kib(fresh.pid)
        listed = gallery_ids(api)

    expect(
        response, 413,
        "File 'a.png' is larger than the limit of 20971520 bytes (20 MB read as 20 x 1,048,576).",
    )
    assert peak < 150 * 1024, f"server peak RSS {peak} KiB, expected under 150 MiB"
    assert listed == []
    assert list((tmp_path / "incoming").iterdir()) == [], "spooled upload left behind"


def test_declared_length_far_over_the_limit_is_refused(alice: httpx.Client) -> None:
    blocks = 100
    declared = len(PNG_PART_HEAD) + blocks * 1_048_576

    def body() -> Iterator[bytes]:
        yield PNG_PART_HEAD
        for _ in range(blocks):
            yield b"\0" * 1_048_576

    headers = {**MULTIPART_B, "content-length": str(declared)}
    response = alice.post("/storage/image", content=body(), headers=headers)

    detail = f"The request body of {declared} bytes is larger than this call accepts."
    expect(response, 413, detail)


def mutated(original: bytes, rng: random.Random) -> bytes:
    """The body with a few random bytes changed, inserted, deleted, or the tail cut off."""
    body = bytearray(original)
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(body)) if body else 0
        roll = rng.random()
        if roll < 0.4 and body:
            body[at] = rng.randrange(256)
        elif roll < 0.6:
            body[at:at] = rng.randbytes(rng.randint(1, 20))
        elif roll < 0.8:
            del body[at:at + rng.randint(1, 50)]
        else:
            del body[at:]
    return bytes(body)


def test_mutated_bodies_never_get_a_5xx(alice: httpx.Client) -> None:
    rng = random.Random(20261204)
    image_id = alice.post("/storage/image", files={"file": ("a.png", png_bytes())}).json()["id"]
    form = (
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n'
        + PNG_PART_HEAD + png_bytes((40, 30)) + b"\r\n--b--\r\n"
    )
    order = b'{"order": ["' + image_id.encode() + b'"]}'
    multipart, urlencoded = MULTIPART_B["content-type"], "application/x-www-form-urlencoded"
    calls = [
        ("POST", "/storage/image", form, multipart),
        ("POST", "/storage/images", form.replace(b'"file"', b'"files"'), multipart),
        ("PUT", f"/storage/image/{image_id}", form, multipart),
        ("PUT", f"/storage/image/{image_id}", b"title=%C4%8D", urlencoded),
        ("PUT", "/storage/images/order", order, "application/json"),
    ]
    server_errors = []

    for _ in range(400):
        method, path, body, content_type = rng.choice(calls)
        sent = mutated(body, rng)
        headers = {"content-type": content_type}
        response = alice.request(method, path, content=sent, headers=headers)
        if response.status_code >= 500:
            server_errors.append(f"{method} {path} {sent[:120]!r} -> {response.status_code}")

    assert server_errors == [], "\n".join(server_errors[:5])
