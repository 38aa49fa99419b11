"""Judging an upload's type from its bytes with Pillow, and making its thumbnail.

An image is accepted when Pillow identifies it as PNG or JPEG, its pixel count is within the
cap (checked from the header, before any pixel is decoded) and it decodes completely.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

logger = logging.getLogger(__name__)

# The server enforces its own, lower pixel cap before decoding, so Pillow's warning for images
# between its own thresholds only adds noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg"}
GIF_TYPES = {"GIF": "image/gif"}
EXTENSION_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
DECLARED_TYPES = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/jpg": "image/jpeg"}
# Under refuse_mismatched_names: the names and declared types that agree with what the bytes are.
MATCHING_EXTENSIONS = {"image/png": {".png"}, "image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"}}
MATCHING_DECLARED = {"image/png": {"image/png"}, "image/jpeg": {"image/jpeg", "image/jpg"}}
# A declared type that says nothing about the file, and what counts as a file name's extension.
UNSPECIFIC_DECLARED = {"", "application/octet-stream"}
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}")


class ImageRefused(Exception):
    """The upload is not an acceptable image; `status` and `detail` form the answer."""

    def __init__(self, status: int, detail: str):
        self.status = status
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class TypeRules:
    """How uploads are judged; anything but the defaults is a fault."""

    max_pixels: int
    thumb_pixels: int
    judge_by: Literal["bytes", "filename", "declared"] = "bytes"
    accept_gif: bool = False
    full_decode: bool = True
    names_must_match: bool = False  # the refuse_mismatched_names choice, not a fault


@dataclass(frozen=True)
class CheckedImage:
    content_type: str
    thumb: bytes
    thumb_type: str


def check_image(path: Path, filename: str, declared: str | None, rules: TypeRules) -> CheckedImage:
    """Judge the spooled upload at `path`; raise ImageRefused when it is not acceptable."""
    if rules.judge_by == "filename":
        return _by_label(path, Path(filename).suffix.lower(), EXTENSION_TYPES, rules)
    if rules.judge_by == "declared":
        return _by_label(path, declared or "", DECLARED_TYPES, rules)
    checked = _by_bytes(path, rules)
    if rules.names_must_match:
        _check_labels(checked.content_type, filename, declared)
    return checked


def _check_labels(content_type: str, filename: str, declared: str | None) -> None:
    """Refuse a file whose name or declared type names another type than its bytes are."""
    suffix = Path(filename).suffix.lower()
    if _EXTENSION.fullmatch(suffix) and suffix not in MATCHING_EXTENSIONS[content_type]:
        raise ImageRefused(
            415, f"the file is {content_type}, but its name says {suffix}; the two must agree."
        )
    said = (declared or "").lower()
    if said not in UNSPECIFIC_DECLARED and said not in MATCHING_DECLARED[content_type]:
        raise ImageRefused(
            415, f"the file is {content_type}, but it is declared as {said}; the two must agree."
        )


def _by_label(path: Path, label: str, types: dict[str, str], rules: TypeRules) -> CheckedImage:
    if label not in types:
        raise ImageRefused(415, f"type {label!r} is not accepted; only png and jpg are accepted.")
    return CheckedImage(types[label], *best_effort_thumbnail(path, rules))


def _by_bytes(path: Path, rules: TypeRules) -> CheckedImage:
    formats = IMAGE_TYPES | GIF_TYPES if rules.accept_gif else IMAGE_TYPES
    try:
        # MPO (a JPEG with extra frames) comes back from the JPEG plugin; it is no open() format.
        with Image.open(path, formats=[f for f in formats if f != "MPO"]) as image:
            content_type = formats[image.format or ""]
            _check_pixels(image.size, rules.max_pixels)
            if not rules.full_decode:
                return CheckedImage(content_type, *best_effort_thumbnail(path, rules))
            thumb = _decode_thumbnail(image, rules.thumb_pixels)
    except ImageRefused:
        raise
    except Image.DecompressionBombError:
        raise ImageRefused(413, _pixels_detail("too many", rules.max_pixels)) from None
    except Exception as exc:
        # Pillow parses hostile bytes here and its error types are no stable contract:
        # whatever it raises means "not a decodable PNG or JPEG".
        logger.debug("image refused by the decoder: %r", exc)
        raise ImageRefused(
            415, "not a complete PNG or JPEG image; only png and jpg are accepted."
        ) from None
    return CheckedImage(content_type, *thumb)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageRefused(413, _pixels_detail(f"{width}x{height}", max_pixels))


def _pixels_detail(dimensions: str, max_pixels: int) -> str:
    return f"the image has {dimensions} pixels; at most {max_pixels} pixels are accepted."


def _decode_thumbnail(image: Image.Image, size: int) -> tuple[bytes, str]:
    """Fully decode `image` (raising on damage) and return its encoded thumbnail."""
    is_jpeg = image.format in ("JPEG", "MPO")
    if is_jpeg:
        # A scaled JPEG decode still reads every block, so damage is found with less memory.
        image.draft(None, (size, size))
    image.load()
    image.thumbnail((size, size))
    if is_jpeg:
        return _encode(image.convert("RGB") if image.mode not in ("RGB", "L") else image, "JPEG")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    return _encode(image, "PNG")


def _encode(image: Image.Image, pillow_format: str) -> tuple[bytes, str]:
    out = io.BytesIO()
    image.save(out, format=pillow_format)
    return out.getvalue(), f"image/{pillow_format.lower()}"


def best_effort_thumbnail(path: Path, rules: TypeRules) -> tuple[bytes, str]:
    """A thumbnail when the bytes decode, else a grey placeholder (only faults get here)."""
    try:
        with Image.open(path) as image:
            _check_pixels(image.size, rules.max_pixels)
            return _decode_thumbnail(image, rules.thumb_pixels)
    except Exception as exc:
        logger.debug("placeholder thumbnail, the bytes do not decode: %r", exc)
        return _encode(Image.new("L", (16, 16), 128), "PNG")


def image_size(path: Path) -> tuple[int, int] | tuple[None, None]:
    """Width and height from the image's header; (None, None) when it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception as exc:
        # Only faults store bytes that are no image; the sizes are then unknown, not an error.
        logger.debug("no image size for %s: %r", path, exc)
        return None, None


def reencode(path: Path) -> bytes:
    """The stored image decoded and encoded again: same picture, different bytes."""
    with Image.open(path) as image:
        image.load()
        pillow_format = "JPEG" if image.format in ("JPEG", "MPO") else "PNG"
        if pillow_format == "JPEG" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, format=pillow_format, optimize=True)
        return out.getvalue()
