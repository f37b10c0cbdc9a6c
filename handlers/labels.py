"""Read track codes from a photo of a parcel label.

Contract:

- :func:`read_label` takes the bytes of an image (anything Pillow opens: JPEG, PNG, WebP, ...)
  and returns a :class:`LabelReading`. It never raises for bad input; the outcome says what
  happened. Decoding runs in a worker thread (``asyncio.to_thread``) under ``timeout`` seconds;
  on timeout the reading is ``TIMED_OUT`` and the thread finishes in the background.
- Inputs over :data:`MAX_BYTES`, or declaring more than :data:`MAX_DECLARED_PIXELS` or a side
  over :data:`MAX_SIDE`, are refused undecoded (``TOO_LARGE``; so is whatever trips Pillow's
  decompression-bomb guard, which only fires above that pixel cap). Images above
  ``max_pixels`` are downscaled, aspect kept, before decoding (JPEGs straight at reduced scale).
- Barcodes are read with zxing-cpp (1D: Code 128/39/93, EAN/UPC, ITF, Codabar; 2D: QR,
  Data Matrix, PDF417, Aztec), normal or inverted, turned by any multiple of 90 degrees give
  or take ~15. If nothing is found, a sharpened, contrast-stretched copy is read (Gaussian blur
  up to ~0.7 module widths instead of ~0.5; very flat images), then that copy turned by 30 and
  by 60 degrees for 1D codes at any angle in between (not for strips longer than 4:1, whose
  turned bounding box would be huge), while the ``timeout`` lasts.
- ``codes`` holds every distinct text that could be a track code, likeliest first
  (:func:`rank_codes`); the outcome is ``FOUND`` exactly when ``codes`` is not empty.

Nothing here touches Telegram, the network or the disk.
"""

from __future__ import annotations

import asyncio
import enum
import io
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import zxingcpp
from PIL import Image, ImageFilter, ImageOps

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_DECLARED_PIXELS = 40_000_000
MAX_SIDE = 65_535  # zxing-cpp refuses wider or taller images
MIN_CODE_LEN = 4
MAX_CODE_LEN = 64

_LINEAR_NAMES = "Code128,Code39,Code93,EAN13,EAN8,UPCA,UPCE,ITF,Codabar"
_LINEAR = zxingcpp.barcode_formats_from_str(_LINEAR_NAMES)
_FORMATS = zxingcpp.barcode_formats_from_str(_LINEAR_NAMES + ",QRCode,DataMatrix,PDF417,Aztec")
_BILINEAR = Image.Resampling.BILINEAR
# Measured on tests/barcode_images.py labels (JPEG q70, 4 px modules): sharpening reads blur
# 2.25-2.75 px (plain pass: up to 2.0); autocontrast alone only helps flat images.
_SHARPEN = ImageFilter.UnsharpMask(radius=3, percent=300, threshold=0)


class Outcome(enum.Enum):
    """What became of one photo."""

    FOUND = "found"
    NONE_FOUND = "none_found"
    UNREADABLE_IMAGE = "unreadable_image"
    TOO_LARGE = "too_large"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class LabelReading:
    """The outcome and the readable codes, likeliest track code first (empty unless FOUND)."""

    outcome: Outcome
    codes: tuple[str, ...] = ()


async def read_label(
    data: bytes,
    *,
    max_pixels: int = 2_000_000,
    timeout: float = 5.0,  # noqa: ASYNC109 - bounds the worker thread, not an awaited I/O call
) -> LabelReading:
    """Decode the barcodes in an image off the event loop; see the module docstring."""
    if len(data) > MAX_BYTES:
        return LabelReading(Outcome.TOO_LARGE)
    if not data:
        return LabelReading(Outcome.UNREADABLE_IMAGE)
    deadline = time.monotonic() + timeout
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_decode, data, max_pixels, deadline), timeout
        )
    except TimeoutError:
        return LabelReading(Outcome.TIMED_OUT)


def _decode(data: bytes, max_pixels: int, deadline: float) -> LabelReading:
    try:
        image = _load(data, max(1, max_pixels))
        if image is None:
            return LabelReading(Outcome.TOO_LARGE)
        found = _scan(image, _FORMATS)
        if not found:  # sharpened + stretched; then turned, as 1D reading stops at ~15° of skew
            enhanced = ImageOps.autocontrast(image.filter(_SHARPEN), cutoff=1)
            strip = max(image.size) > 4 * min(image.size)
            for angle in (0, 30, 60) if not strip else (0,):
                if found or time.monotonic() >= deadline:
                    break
                turned = enhanced.rotate(angle, _BILINEAR, expand=True, fillcolor=255)
                found = _scan(turned, _FORMATS if angle == 0 else _LINEAR)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return LabelReading(Outcome.TOO_LARGE)
    except Exception:  # anything Pillow or zxing-cpp raises on hostile bytes
        log.info("unreadable image", exc_info=True)
        return LabelReading(Outcome.UNREADABLE_IMAGE)
    codes = rank_codes(found)
    return LabelReading(Outcome.FOUND if codes else Outcome.NONE_FOUND, codes)


def _load(data: bytes, max_pixels: int) -> Image.Image | None:
    """The image as greyscale of at most ``max_pixels``, or None when it declares too many."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if width * height > MAX_DECLARED_PIXELS or max(width, height) > MAX_SIDE:
            return None
        scale = min(1.0, math.sqrt(max_pixels / (width * height)))
        target = (max(1, int(width * scale)), max(1, int(height * scale)))
        image.draft("L", target)  # JPEG: decode at 1/2..1/8 scale, never below target
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")  # transparent background -> white, not black
            grey = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L")
        else:
            grey = image.convert("L")
    if grey.width * grey.height > max_pixels:
        grey = grey.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return grey


def _scan(image: Image.Image, formats: zxingcpp.BarcodeFormats) -> list[tuple[str, str]]:
    barcodes = zxingcpp.read_barcodes(
        image, formats=formats, try_rotate=True, try_downscale=True, try_invert=True
    )
    return [(barcode.text, str(barcode.format)) for barcode in barcodes]


_S10 = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")  # UPU S10: RA123456789RU
_MIXED = re.compile(r"(?=[^A-Za-z]*[A-Za-z])(?=[^0-9]*[0-9])[A-Za-z0-9-]{8,30}")
_DIGITS = re.compile(r"[0-9]{8,30}")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:|www\.", re.IGNORECASE)  # http:, mailto:, www.
_PRODUCT_FORMATS = ("EAN", "UPC", "ISBN")
_MATRIX = re.compile(r"QR|DATAMATRIX|PDF417|AZTEC|MAXICODE")  # 2D names, e.g. MICROQRCODE
_PLAIN = re.compile(r"[A-Za-z0-9-]{4,30}")


def _gs1_check_ok(digits: str) -> bool:
    """Whether the last digit is the GS1 (EAN/UPC) mod-10 check digit of the others."""
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - weighted % 10) % 10 == int(digits[-1])


def _is_product_code(text: str, fmt: str) -> bool:
    """EAN-13 / UPC-A / EAN-8 goods code: read as such, or digits with a valid GS1 check digit."""
    if fmt.startswith(_PRODUCT_FORMATS):
        return True
    return len(text) in (8, 12, 13) and _gs1_check_ok(text)


def _tier(text: str, fmt: str) -> int:
    """0 = UPU S10, 1 = letters and digits, 2 = long digits (no goods code), 3 = other, 4 = last."""
    if _S10.fullmatch(text):
        return 0
    if _MIXED.fullmatch(text):
        return 1
    if _DIGITS.fullmatch(text) and not _is_product_code(text, fmt):
        return 2
    if _URL.match(text) or (_MATRIX.search(fmt) and not _PLAIN.fullmatch(text)):
        return 4
    return 3


def _plausible(text: str) -> bool:
    """4-64 characters, none of them whitespace, control, format or unassigned."""
    return MIN_CODE_LEN <= len(text) <= MAX_CODE_LEN and text.isprintable() and " " not in text


def rank_codes(found: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Distinct plausible texts of ``(text, format name)`` pairs, likeliest track code first.

    Order: UPU S10 codes (``AA123456789AA``); Latin letters with digits, 8-30 characters; all
    digits, 8-30 long, that are not an EAN-13/UPC-A/EAN-8 goods code; other texts; last, URLs
    and 2D-code contents that are not a plain code (Latin letters, digits, "-"; up to 30), such
    as GS1 element strings. A 2D code holding a plain code ranks as a 1D code would.
    Texts are stripped; those with fewer than 4 or more than 64 characters, or with whitespace
    or control characters inside, are dropped. Ties keep the input order. Format names are
    zxing-cpp's ("Code 128", "EAN-13", "QR Code", ...), compared without case and punctuation.
    """
    tiered: list[tuple[int, str]] = []
    for raw, fmt_name in found:
        text = raw.strip()
        if _plausible(text):
            fmt = re.sub(r"[^A-Z0-9]", "", fmt_name.upper())
            tiered.append((_tier(text, fmt), text))
    tiered.sort(key=lambda item: item[0])
    return tuple(dict.fromkeys(text for _, text in tiered))
