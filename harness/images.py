"""Real image bytes for uploads: PNG/JPEG of exact sizes and a corpus of files that are not."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import random
import struct
import warnings
import zlib
from collections.abc import Callable
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import NamedTuple

from PIL import Image

logger = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ancillary (p), private (a), reserved bit clear (D), safe to copy (d): every PNG reader must
# skip it, and editors may keep it.
PAD_CHUNK = b"paDd"
PNG_CHUNK_OVERHEAD = 12  # length, type and CRC
# libpng refuses ancillary chunks above 8,000,000 bytes by default; staying far below it keeps
# padded files valid for servers that decode with libpng, not only for Pillow.
PNG_PAD_CHUNK_MAX = 1 << 20

JPEG_SOI = b"\xff\xd8"
JPEG_COM = b"\xff\xfe"
JPEG_SEGMENT_OVERHEAD = 4  # marker and length field
JPEG_COM_DATA_MAX = 0xFFFF - 2  # the length field counts itself

# sniff() refuses to decode more pixels than this, so a decompression bomb costs nothing.
SNIFF_MAX_PIXELS = 40_000_000
# Formats that are another name for one the API knows.
_FORMAT_ALIASES = {"mpo": "jpeg"}

HUGE_SIDE = 60_000


# A file as its pieces in order, each with how many times it repeats: a padded 20 MB image is a
# few kilobytes of pieces, streamed without ever being joined (payload.FileToSend(layout=...)).
Layout = tuple[tuple[bytes, int], ...]


class Sample(NamedTuple):
    """One file to upload: its bytes, a suggested file name and the declared part type."""

    data: bytes
    filename: str
    content_type: str


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _noise_image(width: int, height: int, seed: int) -> Image.Image:
    """An RGB image of seeded random pixels: a different seed gives different pixels."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image dimensions must be positive, got {width}x{height}")
    pixels = random.Random(seed).randbytes(width * height * 3)
    return Image.frombytes("RGB", (width, height), pixels)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _split(total: int, overhead: int, data_max: int, what: str) -> list[int]:
    """Data lengths of the fewest padding blocks whose sizes add up to `total` bytes."""
    if total == 0:
        return []
    count = -(-total // (overhead + data_max))
    data = total - count * overhead
    if data < 0:
        raise ValueError(
            f"{total} bytes of padding cannot be made of {what} ({overhead} bytes each)"
        )
    # Even shares give at most two distinct lengths, each built once.
    share, extra = divmod(data, count)
    return [share + 1] * extra + [share] * (count - extra)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _check_padded_size(size: int, base: int, overhead: int, what: str) -> None:
    if size < base:
        raise ValueError(
            f"size {size} is too small for this {what}: the image alone takes {base} bytes"
        )
    if 0 < size - base < overhead:
        raise ValueError(
            f"size {size} cannot be reached for this {what}: the image takes {base} bytes and "
            f"padding adds at least {overhead}; ask for {base} or at least {base + overhead}"
        )


def join_layout(layout: Layout) -> bytes:
    return b"".join(piece for piece, count in layout for _ in range(count))


def layout_size(layout: Layout) -> int:
    return sum(len(piece) * count for piece, count in layout)


def _padding_runs(lengths: list[int], block: Callable[[int], bytes]) -> list[tuple[bytes, int]]:
    """Padding blocks as runs of equal lengths, each block built once however often it repeats."""
    return [(block(n), len(list(run))) for n, run in groupby(lengths)]


def png_bytes(
    size: int | None = None, *, width: int = 16, height: int = 16, seed: int = 0
) -> bytes:
    """A real PNG of seeded noise; with `size`, padded by `paDd` chunks to exactly that length."""
    if size is None:
        return _encode(_noise_image(width, height, seed), "PNG")
    return join_layout(png_layout(size, width=width, height=height, seed=seed))


def png_layout(size: int, *, width: int = 16, height: int = 16, seed: int = 0) -> Layout:
    """The pieces of png_bytes(size, ...), in order, unjoined."""
    image = _encode(_noise_image(width, height, seed), "PNG")
    _check_padded_size(size, len(image), PNG_CHUNK_OVERHEAD, f"{width}x{height} PNG")

    lengths = _split(size - len(image), PNG_CHUNK_OVERHEAD, PNG_PAD_CHUNK_MAX, "PNG chunks")
    iend = len(image) - PNG_CHUNK_OVERHEAD
    padding = _padding_runs(lengths, lambda n: _png_chunk(PAD_CHUNK, bytes(n)))
    return ((image[:iend], 1), *padding, (image[iend:], 1))


def _jpeg_insert_at(image: bytes) -> int:
    """Where padding goes: after SOI, and after a JFIF APP0 there, which must come first."""
    if image[2:4] == b"\xff\xe0" and image[6:11] == b"JFIF\x00":
        (length,) = struct.unpack(">H", image[4:6])
        return 4 + length
    return len(JPEG_SOI)


def jpeg_bytes(
    size: int | None = None, *, width: int = 16, height: int = 16, seed: int = 0
) -> bytes:
    """A real baseline JPEG of seeded noise; with `size`, padded by COM segments to that length."""
    if size is None:
        return _encode(_noise_image(width, height, seed), "JPEG", quality=90)
    return join_layout(jpeg_layout(size, width=width, height=height, seed=seed))


def jpeg_layout(size: int, *, width: int = 16, height: int = 16, seed: int = 0) -> Layout:
    """The pieces of jpeg_bytes(size, ...), in order, unjoined."""
    image = _encode(_noise_image(width, height, seed), "JPEG", quality=90)
    _check_padded_size(size, len(image), JPEG_SEGMENT_OVERHEAD, f"{width}x{height} JPEG")

    lengths = _split(size - len(image), JPEG_SEGMENT_OVERHEAD, JPEG_COM_DATA_MAX, "COM segments")
    padding = _padding_runs(lengths, lambda n: JPEG_COM + struct.pack(">H", n + 2) + bytes(n))
    at = _jpeg_insert_at(image)
    return ((image[:at], 1), *padding, (image[at:], 1))


def gif_bytes(seed: int = 0) -> bytes:
    """A real two-frame animated GIF."""
    frames = [_noise_image(16, 16, seed + n).convert("P") for n in range(2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def webp_bytes(seed: int = 0) -> bytes:
    return _encode(_noise_image(16, 16, seed), "WEBP")


def bmp_bytes(seed: int = 0) -> bytes:
    return _encode(_noise_image(16, 16, seed), "BMP")


def pdf_bytes(seed: int = 0) -> bytes:
    """A one-page PDF holding a picture: an image format's content, not an image file."""
    return _encode(_noise_image(16, 16, seed), "PDF")


def svg_bytes() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">\n'
        b'  <rect width="16" height="16" fill="#2a7f62"/>\n'
        b"</svg>\n"
    )


def text_bytes() -> bytes:
    return "Holiday notes: café at nine, gallery at noon.\n".encode("utf-8")


def png_signature_with_junk(size: int = 1024, seed: int = 0) -> bytes:
    """The 8-byte PNG signature followed by seeded random bytes: looks like PNG, is not."""
    if size < len(PNG_SIGNATURE):
        raise ValueError(f"size {size} is too small for the {len(PNG_SIGNATURE)}-byte signature")
    return PNG_SIGNATURE + random.Random(seed).randbytes(size - len(PNG_SIGNATURE))


def _png_chunk_offsets(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Offset and data length of the first chunk of each type in a well-formed PNG."""
    offsets: dict[bytes, tuple[int, int]] = {}
    at = len(PNG_SIGNATURE)
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        offsets.setdefault(kind, (at, length))
        at += PNG_CHUNK_OVERHEAD + length
    return offsets


def truncated_png() -> bytes:
    """A real PNG cut halfway through its image data, so it has no IEND and cannot decode."""
    image = png_bytes(width=64, height=64, seed=7)
    at, length = _png_chunk_offsets(image)[b"IDAT"]
    return image[: at + 8 + length // 2]


def truncated_jpeg() -> bytes:
    """A real JPEG cut halfway through its scan: only LOAD_TRUNCATED_IMAGES would decode it."""
    image = jpeg_bytes(width=64, height=64, seed=7)
    scan = image.index(b"\xff\xda")
    return image[: scan + (len(image) - scan) // 2]


@lru_cache(maxsize=1)
def huge_dimensions_png() -> bytes:
    """A 60000x60000 1-bit black PNG of a few hundred KB: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", HUGE_SIDE, HUGE_SIDE, 1, 0, 0, 0, 0)
    row = bytes(1 + HUGE_SIDE // 8)  # filter byte "none", then 1 bit a pixel
    rows_per_block = 1000

    # Compress block by block so the 450 MB of raw scanlines never exist at once.
    compressor = zlib.compressobj(9)
    block = row * rows_per_block
    idat = [compressor.compress(block) for _ in range(HUGE_SIDE // rows_per_block)]
    idat.append(compressor.flush())
    return b"".join(
        [
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", ihdr),
            _png_chunk(b"IDAT", b"".join(idat)),
            _png_chunk(b"IEND", b""),
        ]
    )


def sniff(data: bytes) -> str | None:
    """What the bytes really are, by a full decode with Pillow: "png", "jpeg", "gif", ...

    None when they do not fully decode, and also for images above SNIFF_MAX_PIXELS, which are
    never decoded (a decompression bomb is refused unread). A JPEG that Pillow calls MPO is
    "jpeg".
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > SNIFF_MAX_PIXELS:
                    return None
                image.load()
                fmt = (image.format or "").lower()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        logger.debug("bytes do not decode as an image: %s", exc)
        return None
    return _FORMAT_ALIASES.get(fmt, fmt) or None


CORPUS: dict[str, Callable[[], Sample]] = {
    "png": lambda: Sample(png_bytes(), "picture.png", "image/png"),
    "jpeg": lambda: Sample(jpeg_bytes(), "photo.jpg", "image/jpeg"),
    "gif": lambda: Sample(gif_bytes(), "animation.gif", "image/gif"),
    "webp": lambda: Sample(webp_bytes(), "picture.webp", "image/webp"),
    "bmp": lambda: Sample(bmp_bytes(), "bitmap.bmp", "image/bmp"),
    "svg": lambda: Sample(svg_bytes(), "drawing.svg", "image/svg+xml"),
    "pdf": lambda: Sample(pdf_bytes(), "document.pdf", "application/pdf"),
    "text": lambda: Sample(text_bytes(), "notes.txt", "text/plain"),
    "empty": lambda: Sample(b"", "empty.png", "image/png"),
    "png_signature_with_junk": lambda: Sample(png_signature_with_junk(), "junk.png", "image/png"),
    "truncated_png": lambda: Sample(truncated_png(), "truncated.png", "image/png"),
    "truncated_jpeg": lambda: Sample(truncated_jpeg(), "truncated.jpg", "image/jpeg"),
    "huge_dimensions_png": lambda: Sample(huge_dimensions_png(), "huge.png", "image/png"),
}


# Every corpus file is the same on each call (fixed seeds): made once per process, then reused.
@lru_cache(maxsize=None)
def corpus_sample(name: str) -> Sample:
    """The corpus file a feature names; an unknown name is an error listing the known ones."""
    factory = CORPUS.get(name)
    if factory is None:
        raise KeyError(f"no corpus file named {name!r}; known: {', '.join(sorted(CORPUS))}")
    return factory()
