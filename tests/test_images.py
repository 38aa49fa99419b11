"""The image factory makes real files of exact sizes, and corpus files that are what they say."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ElementTree
import zlib

import pytest
from PIL import Image, ImageFile

from harness import images
from harness.images import (
    CORPUS,
    JPEG_COM_DATA_MAX,
    PNG_PAD_CHUNK_MAX,
    PNG_SIGNATURE,
    corpus_sample,
    jpeg_bytes,
    png_bytes,
    sha256_hex,
    sniff,
)

BOUNDARY_SIZES = [20_971_520, 20_971_521, 20_000_000, 20_000_001]
SMALL_PNG_SIZES = [2_000, 4_096, 10_000, 2 * PNG_PAD_CHUNK_MAX + 12_345]
SMALL_JPEG_SIZES = [2_000, 4_096, 65_540, 3 * JPEG_COM_DATA_MAX + 7]


def png_chunks(data: bytes) -> list[tuple[bytes, int]]:
    """Type and data length of every chunk, checking each CRC on the way."""
    assert data[:8] == PNG_SIGNATURE, f"PNG signature: received {data[:8]!r}"
    chunks = []
    at = 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 4 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(body), f"CRC of {kind!r} chunk at offset {at} is wrong"
        chunks.append((kind, length))
        at += 12 + length
    assert at == len(data), f"chunks end at {at}, file has {len(data)} bytes"
    return chunks


def jpeg_segments(data: bytes) -> list[tuple[bytes, int]]:
    """Marker and length field of each segment before the scan."""
    assert data[:2] == b"\xff\xd8", f"JPEG SOI: received {data[:2]!r}"
    segments = []
    at = 2
    while data[at : at + 2] != b"\xff\xda":
        marker = data[at : at + 2]
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        segments.append((marker, length))
        at += 2 + length
    return segments


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_png_without_size_is_the_plain_pillow_image():
    data = png_bytes(width=40, height=30, seed=3)

    kinds = [kind for kind, _ in png_chunks(data)]
    image = decoded(data)

    assert kinds == [b"IHDR", b"IDAT", b"IEND"], f"chunks: received {kinds}"
    assert (image.format, image.size) == ("PNG", (40, 30)), (
        f"decoded as {image.format} {image.size}, expected PNG (40, 30)"
    )


@pytest.mark.parametrize("size", SMALL_PNG_SIZES + BOUNDARY_SIZES)
def test_png_has_the_exact_size_and_decodes(size):
    data = png_bytes(size, width=24, height=20)

    image = decoded(data)

    assert len(data) == size, f"png_bytes({size}) gave {len(data)} bytes"
    assert (image.format, image.size) == ("PNG", (24, 20)), (
        f"decoded as {image.format} {image.size}, expected PNG (24, 20)"
    )


@pytest.mark.parametrize("size", [1_000, 2 * PNG_PAD_CHUNK_MAX + 12_345, 20_971_521])
def test_png_padding_is_valid_private_chunks_before_iend(size):
    chunks = png_chunks(png_bytes(size))

    kinds = [kind for kind, _ in chunks]
    pads = [length for kind, length in chunks if kind == b"paDd"]

    assert kinds[:2] == [b"IHDR", b"IDAT"] and kinds[-1] == b"IEND", f"chunk order: {kinds}"
    assert set(kinds[2:-1]) == {b"paDd"}, f"chunks between IDAT and IEND: {set(kinds[2:-1])}"
    assert max(pads) <= PNG_PAD_CHUNK_MAX, f"largest pad chunk {max(pads)} > {PNG_PAD_CHUNK_MAX}"


def test_png_size_equal_to_the_plain_image_needs_no_padding():
    plain = png_bytes()

    assert png_bytes(len(plain)) == plain, "padding to the plain size changed the bytes"
    assert len(png_bytes(len(plain) + 12)) == len(plain) + 12, "an empty pad chunk is 12 bytes"


@pytest.mark.parametrize("size", SMALL_JPEG_SIZES + BOUNDARY_SIZES)
def test_jpeg_has_the_exact_size_and_decodes(size):
    data = jpeg_bytes(size, width=24, height=20)

    image = decoded(data)

    assert len(data) == size, f"jpeg_bytes({size}) gave {len(data)} bytes"
    assert (image.format, image.size) == ("JPEG", (24, 20)), (
        f"decoded as {image.format} {image.size}, expected JPEG (24, 20)"
    )


def test_jpeg_is_baseline_with_jfif_first_and_com_padding_after_it():
    plain = jpeg_bytes()
    data = jpeg_bytes(len(plain) + 4 * JPEG_COM_DATA_MAX + 7)

    segments = jpeg_segments(data)
    markers = [marker for marker, _ in segments]
    coms = [length for marker, length in segments if marker == b"\xff\xfe"]

    assert markers[0] == b"\xff\xe0", f"first segment: received {markers[0]!r}, expected APP0"
    assert markers[1:5] == [b"\xff\xfe"] * 4, f"segments after APP0: {markers[1:5]}"
    assert b"\xff\xfe" not in markers[5:], f"COM segments later on: {markers}"
    assert sum(coms) + 2 * len(coms) == 4 * JPEG_COM_DATA_MAX + 7, f"COM lengths {coms}"
    assert max(coms) <= 0xFFFF, f"COM length field {max(coms)} exceeds 65535"
    assert b"\xff\xc0" in markers and b"\xff\xc2" not in markers, f"not baseline: {markers}"


@pytest.mark.parametrize("factory", [png_bytes, jpeg_bytes])
def test_seeds_give_different_files_and_the_same_seed_the_same_file(factory):
    hashes = {sha256_hex(factory(5_000, seed=seed)) for seed in range(5)}

    assert len(hashes) == 5, f"5 seeds gave {len(hashes)} distinct sha256 values"
    assert factory(seed=9) == factory(seed=9), "the same seed gave different bytes"


@pytest.mark.parametrize("factory", [png_bytes, jpeg_bytes])
def test_a_size_below_the_image_is_refused(factory):
    plain = len(factory())

    with pytest.raises(ValueError, match=rf"size 100 is too small .* takes {plain} bytes"):
        factory(100)


@pytest.mark.parametrize(("factory", "overhead"), [(png_bytes, 12), (jpeg_bytes, 4)])
def test_a_size_padding_cannot_reach_is_refused(factory, overhead):
    plain = len(factory())

    for extra in range(1, overhead):
        with pytest.raises(ValueError, match=rf"ask for {plain} or at least {plain + overhead}"):
            factory(plain + extra)


def test_sha256_hex_is_the_hex_digest():
    digest = sha256_hex(b"abc")

    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", digest


def test_corpus_names_the_gherkin_uses():
    expected = {
        "png", "jpeg", "gif", "webp", "bmp", "svg", "pdf", "text", "empty",
        "png_signature_with_junk", "truncated_png", "truncated_jpeg", "huge_dimensions_png",
    }  # fmt: skip

    assert set(CORPUS) == expected, f"corpus names: {sorted(CORPUS)}"


@pytest.mark.parametrize(
    ("name", "fmt", "filename", "content_type"),
    [
        ("png", "png", "picture.png", "image/png"),
        ("jpeg", "jpeg", "photo.jpg", "image/jpeg"),
        ("gif", "gif", "animation.gif", "image/gif"),
        ("webp", "webp", "picture.webp", "image/webp"),
        ("bmp", "bmp", "bitmap.bmp", "image/bmp"),
        ("svg", None, "drawing.svg", "image/svg+xml"),
        ("pdf", None, "document.pdf", "application/pdf"),
        ("text", None, "notes.txt", "text/plain"),
        ("empty", None, "empty.png", "image/png"),
        ("png_signature_with_junk", None, "junk.png", "image/png"),
        ("truncated_png", None, "truncated.png", "image/png"),
        ("truncated_jpeg", None, "truncated.jpg", "image/jpeg"),
        ("huge_dimensions_png", None, "huge.png", "image/png"),
    ],
)
def test_corpus_sample_sniffs_as_its_format(name, fmt, filename, content_type):
    sample = corpus_sample(name)

    assert (sample.filename, sample.content_type) == (filename, content_type), (
        f"{name}: received {sample.filename}, {sample.content_type}"
    )
    assert sniff(sample.data) == fmt, f"sniff({name}) = {sniff(sample.data)!r}, expected {fmt!r}"


def test_unknown_corpus_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="no corpus file named 'tiff'; known: bmp, empty"):
        corpus_sample("tiff")


def test_gif_is_an_animation_of_two_frames():
    image = decoded(images.gif_bytes())

    assert (image.format, image.n_frames) == ("GIF", 2), f"{image.format}, {image.n_frames} frames"


@pytest.mark.parametrize(
    ("factory", "fmt"), [(images.webp_bytes, "WEBP"), (images.bmp_bytes, "BMP")]
)
def test_other_raster_formats_decode_as_themselves(factory, fmt):
    image = decoded(factory())

    assert (image.format, image.size) == (fmt, (16, 16)), f"{image.format} {image.size}"


def test_pdf_is_a_pdf_document():
    data = images.pdf_bytes()

    assert data.startswith(b"%PDF-1."), f"PDF header: received {data[:8]!r}"
    assert data.rstrip().endswith(b"%%EOF"), f"PDF trailer: received {data[-8:]!r}"
    assert b"/Type /Page" in data, "no page object in the PDF"


def test_svg_is_a_well_formed_svg_document():
    root = ElementTree.fromstring(images.svg_bytes())

    assert root.tag == "{http://www.w3.org/2000/svg}svg", f"root element: {root.tag}"
    assert (root.get("width"), root.get("height")) == ("16", "16"), f"size {root.attrib}"


def test_text_is_utf8_and_no_image():
    data = images.text_bytes()

    assert data.decode("utf-8") == "Holiday notes: café at nine, gallery at noon.\n", data
    with pytest.raises(OSError):
        Image.open(io.BytesIO(data))


def test_png_signature_with_junk_has_the_size_and_signature():
    data = images.png_signature_with_junk(size=300, seed=4)

    assert (len(data), data[:8]) == (300, PNG_SIGNATURE), f"{len(data)} bytes, {data[:8]!r}"
    assert images.png_signature_with_junk(size=300, seed=5) != data, "seed did not matter"
    with pytest.raises(ValueError, match="size 7 is too small"):
        images.png_signature_with_junk(size=7)


def test_truncated_png_opens_but_fails_a_full_load():
    data = images.truncated_png()
    image = Image.open(io.BytesIO(data))

    assert (image.format, image.size) == ("PNG", (64, 64)), f"header: {image.format} {image.size}"
    assert b"IEND" not in data, "the truncated PNG still has IEND"
    with pytest.raises(OSError):
        image.load()


def test_truncated_jpeg_fails_a_full_load_unless_truncation_is_allowed(monkeypatch):
    data = images.truncated_jpeg()

    with pytest.raises(OSError, match="truncated"):
        decoded(data)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    image = decoded(data)

    assert (image.format, image.size) == ("JPEG", (64, 64)), f"{image.format} {image.size}"


def test_huge_dimensions_png_declares_60000_square_in_a_small_file():
    data = images.huge_dimensions_png()

    chunks = png_chunks(data)
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])

    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"], f"chunks: {chunks}"
    assert (width, height, depth, colour) == (60_000, 60_000, 1, 0), (
        f"IHDR: {width}x{height}, depth {depth}, colour type {colour}"
    )
    assert len(data) < 1_000_000, f"file is {len(data)} bytes, expected under 1 MB"


def test_huge_dimensions_png_inflates_to_every_scanline():
    data = images.huge_dimensions_png()
    _, idat_length = png_chunks(data)[1]
    stream = zlib.decompressobj()
    compressed = data[41 : 41 + idat_length]

    # Inflate piece by piece: the whole image would be 450 MB.
    total = 0
    while compressed:
        total += len(stream.decompress(compressed, 1 << 24))
        compressed = stream.unconsumed_tail

    assert stream.eof, "the zlib stream does not end"
    assert total == 60_000 * (1 + 60_000 // 8), f"inflated {total} bytes"


def test_sniff_refuses_images_above_the_pixel_cap(monkeypatch):
    monkeypatch.setattr(images, "SNIFF_MAX_PIXELS", 255)

    assert sniff(png_bytes(width=16, height=16)) is None, "256 pixels passed a 255 cap"
    assert sniff(png_bytes(width=15, height=17)) == "png", "255 pixels failed a 255 cap"
