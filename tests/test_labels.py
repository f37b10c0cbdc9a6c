"""Reading track codes from label photos: real images in, ranked codes or an outcome out.

Limits measured with ``tests.barcode_images.code128_label`` (JPEG quality 70, 1600x1200, 4 px
modules, Gaussian blur radius in px). Straight label: the first pass reads blur up to 2.0 (about
half a module), the sharpened pass up to 2.75; 3.0 mostly fails, from 3.5 nothing is read. Turned
label: every angle reads at blur 1.0; at 1.5 all but a few near the diagonals (45 + k*90); at 2.0
only within ~15 degrees of an axis, at 2.5 within ~10. 2 px modules (an 800x600 photo) stop at
blur 1.0-1.25 whatever the pass.
"""

from __future__ import annotations

import asyncio
import functools
import io
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from handlers import labels
from handlers.labels import MAX_BYTES, LabelReading, Outcome, rank_codes, read_label
from tests.barcode_images import (
    code128_label,
    declared_size_png,
    no_barcode_photo,
    qr_label,
    transparent_code128_png,
    two_barcodes_label,
)

TRACK = "RA123456789RU"
EAN13 = "5901234123457"  # valid GS1 check digit

# Each image is built once per run (several tests share some); most are JPEGs, as phones send.
label = functools.cache(code128_label)
qr = functools.cache(qr_label)
no_barcode = functools.cache(no_barcode_photo)


def _webp(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, format="WEBP", quality=80, method=0)
    return out.getvalue()


FOUND_CASES: list[tuple[str, Callable[[], bytes], tuple[str, ...]]] = [
    ("code128-png", lambda: label(TRACK), (TRACK,)),
    ("code128-digits", lambda: label("1234567890123", jpeg_quality=85), ("1234567890123",)),
    ("rotated-90", lambda: label(TRACK, rotate=90, jpeg_quality=85), (TRACK,)),
    ("rotated-15", lambda: label(TRACK, rotate=15, jpeg_quality=85), (TRACK,)),
    # zxing-cpp alone reads 1D codes up to ~15 degrees off an axis; more needs the turned passes.
    ("rotated-25", lambda: label(TRACK, rotate=25, jpeg_quality=85), (TRACK,)),
    ("rotated-225-blur-1.0", lambda: label(TRACK, rotate=225, blur=1.0, jpeg_quality=85), (TRACK,)),
    ("blur-1.5-jpeg70", lambda: label(TRACK, blur=1.5, jpeg_quality=70), (TRACK,)),
    ("blur-2.0-jpeg70", lambda: label(TRACK, blur=2.0, jpeg_quality=70), (TRACK,)),
    ("blur-2.5-jpeg70", lambda: label(TRACK, blur=2.5, jpeg_quality=70), (TRACK,)),
    ("track-and-ean13", lambda: two_barcodes_label(TRACK, EAN13, jpeg_quality=85), (TRACK, EAN13)),
    ("qr-plain-code", lambda: qr("CDEK12345678", jpeg_quality=85), ("CDEK12345678",)),
    ("webp", lambda: _webp(label(TRACK, jpeg_quality=85)), (TRACK,)),
    ("transparent-png", lambda: transparent_code128_png(TRACK), (TRACK,)),
]


@pytest.mark.parametrize(
    ("make", "codes"), [c[1:] for c in FOUND_CASES], ids=[c[0] for c in FOUND_CASES]
)
async def test_reads_codes(make: Callable[[], bytes], codes: tuple[str, ...]) -> None:
    assert await read_label(make()) == LabelReading(Outcome.FOUND, codes)


NOT_FOUND_CASES: list[tuple[str, Callable[[], bytes], Outcome]] = [
    ("no-barcode", no_barcode, Outcome.NONE_FOUND),
    # Beyond the blur limit (see the module docstring): nothing is read, nothing is guessed.
    (
        "blur-4.0-jpeg70",
        lambda: label(TRACK, blur=4.0, jpeg_quality=70),
        Outcome.NONE_FOUND,
    ),
    ("empty", lambda: b"", Outcome.UNREADABLE_IMAGE),
    ("garbage", lambda: bytes(range(256)) * 40, Outcome.UNREADABLE_IMAGE),
    ("text", lambda: b"RA123456789RU\n", Outcome.UNREADABLE_IMAGE),
    (
        "truncated-jpeg",
        lambda: label(TRACK, jpeg_quality=85)[:5000],
        Outcome.UNREADABLE_IMAGE,
    ),
    ("declares-48-mp", lambda: declared_size_png(8000, 6000), Outcome.TOO_LARGE),
    ("side-over-65535", lambda: declared_size_png(70_000, 10), Outcome.TOO_LARGE),
    # Pillow's own guard: a warning above ~89 MP (an error under pytest), an error above ~179 MP.
    ("declares-100-mp", lambda: declared_size_png(10_000, 10_000), Outcome.TOO_LARGE),
    ("declares-900-mp", lambda: declared_size_png(30_000, 30_000), Outcome.TOO_LARGE),
    ("over-20-mb", lambda: b"\xff\xd8\xff" + bytes(MAX_BYTES), Outcome.TOO_LARGE),
]


@pytest.mark.parametrize(
    ("make", "outcome"), [c[1:] for c in NOT_FOUND_CASES], ids=[c[0] for c in NOT_FOUND_CASES]
)
async def test_reports_what_happened(make: Callable[[], bytes], outcome: Outcome) -> None:
    assert await read_label(make()) == LabelReading(outcome)


def _spy_sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    sizes: list[tuple[int, int]] = []
    real = zxingcpp.read_barcodes

    def spy(image: Image.Image, **kwargs: Any) -> list[zxingcpp.Barcode]:
        sizes.append(image.size)
        return real(image, **kwargs)

    monkeypatch.setattr(zxingcpp, "read_barcodes", spy)
    return sizes


@pytest.mark.parametrize(
    ("make", "max_pixels", "aspect"),
    [
        (lambda: code128_label(TRACK, size=(6000, 4000), jpeg_quality=85), 2_000_000, 1.5),
        (lambda: label(TRACK), 600_000, 4 / 3),  # PNG: no JPEG draft, plain resize
    ],
    ids=["6000x4000-jpeg", "1600x1200-png"],
)
async def test_downscales_big_images_keeping_aspect(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], bytes], max_pixels: int, aspect: float
) -> None:
    sizes = _spy_sizes(monkeypatch)
    assert await read_label(make(), max_pixels=max_pixels) == LabelReading(Outcome.FOUND, (TRACK,))
    width, height = sizes[0]
    assert width * height <= max_pixels
    assert width * height >= 0.98 * max_pixels
    assert width / height == pytest.approx(aspect, rel=0.01)


async def test_long_strips_are_not_turned(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _spy_sizes(monkeypatch)
    out = io.BytesIO()
    Image.new("L", (8000, 250), 255).save(out, format="PNG")
    assert await read_label(out.getvalue()) == LabelReading(Outcome.NONE_FOUND)
    assert sizes == [(8000, 250), (8000, 250)]  # plain and sharpened; no 30/60 degree bounding box


async def test_second_pass_reads_what_the_first_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _spy_sizes(monkeypatch)
    reading = await read_label(label(TRACK, blur=2.5, jpeg_quality=70))
    assert reading == LabelReading(Outcome.FOUND, (TRACK,))
    assert len(sizes) == 2


async def test_times_out_without_blocking_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(image: Image.Image, formats: zxingcpp.BarcodeFormats) -> list[tuple[str, str]]:
        release.wait(5)
        return [(TRACK, "Code 128")]

    monkeypatch.setattr(labels, "_scan", stuck)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    started = time.monotonic()
    reading = await read_label(label(TRACK, jpeg_quality=85), timeout=0.2)
    elapsed = time.monotonic() - started
    tick_task.cancel()
    release.set()
    assert reading == LabelReading(Outcome.TIMED_OUT)
    assert elapsed < 1.0
    assert ticks >= 5  # the loop kept running while the thread was stuck


async def test_concurrent_reads_do_not_mix_up() -> None:
    images = [label(TRACK, jpeg_quality=85), qr("CDEK12345678", jpeg_quality=85), no_barcode()]
    readings = await asyncio.gather(*(read_label(image) for image in images))
    assert readings == [
        LabelReading(Outcome.FOUND, (TRACK,)),
        LabelReading(Outcome.FOUND, ("CDEK12345678",)),
        LabelReading(Outcome.NONE_FOUND),
    ]


RANK_CASES: list[tuple[str, list[tuple[str, str]], tuple[str, ...]]] = [
    ("empty", [], ()),
    (
        "s10-before-digits",
        [("1234567890123", "Code 128"), (TRACK, "Code 128")],
        (TRACK, "1234567890123"),
    ),
    (
        "code128-alnum-before-ean13",
        [(EAN13, "EAN-13"), ("CDEK12345678", "Code 128")],
        ("CDEK12345678", EAN13),
    ),
    (
        "s10-then-alnum-then-digits",
        [("12345678901", "ITF"), ("CDEK12345678", "Code 39"), (TRACK, "Code 128")],
        (TRACK, "CDEK12345678", "12345678901"),
    ),
    (
        "gs1-valid-digits-in-code128-rank-as-goods",
        [
            ("4006381333931", "Code 128"),
            ("036000291452", "Code 128"),
            ("1234567890123", "Code 128"),
        ],
        ("1234567890123", "4006381333931", "036000291452"),
    ),
    (
        "ean8-after-long-digits",
        [("96385074", "EAN-8"), ("80085678901234", "Code 128")],
        ("80085678901234", "96385074"),
    ),
    (
        "url-qr-last",
        [("https://market.yandex.ru/t/1", "QR Code"), (EAN13, "EAN-13"), (TRACK, "Code 128")],
        (TRACK, EAN13, "https://market.yandex.ru/t/1"),
    ),
    (
        "url-in-code128-last-too",
        [("http://x.example/RA1", "Code 128"), ("ABCD", "Code 39")],
        ("ABCD", "http://x.example/RA1"),
    ),
    (
        "qr-with-plain-code-ranks-as-1d",
        [(EAN13, "EAN-13"), ("CDEK12345678", "QR Code")],
        ("CDEK12345678", EAN13),
    ),
    (
        "qr-s10-first",
        [("CDEK12345678", "Code 128"), (TRACK, "QR Code")],
        (TRACK, "CDEK12345678"),
    ),
    (
        "structured-2d-after-short-1d",
        [("(01)04601234567893(21)Ab1", "Data Matrix"), ("ABC1", "Code 39")],
        ("ABC1", "(01)04601234567893(21)Ab1"),
    ),
    (
        "plain-2d-code-ranks-as-1d-other-text",
        [("(01)04601234567893(21)Ab1", "Data Matrix"), ("ABC1", "QR Code"), ("ZZ-9", "Code 39")],
        ("ABC1", "ZZ-9", "(01)04601234567893(21)Ab1"),
    ),
    (
        "scheme-uris-last",
        [
            ("mailto:a@b.example", "QR Code"),
            ("WIFI:S:x;;", "QR Code"),
            ("4006381333931", "QR Code"),
        ],
        ("4006381333931", "mailto:a@b.example", "WIFI:S:x;;"),
    ),
    ("too-short-dropped", [("123", "Code 128"), (TRACK, "Code 128")], (TRACK,)),
    ("too-long-dropped", [("A1" * 33, "Code 128"), ("B" * 64, "Code 128")], ("B" * 64,)),
    (
        "whitespace-and-control-dropped",
        [("RA 123456789RU", "QR Code"), ("AB\x1dCD1234", "Code 128"), ("W1\tX2Y3", "Code 128")],
        (),
    ),
    ("stripped", [(f"  {TRACK}\n", "Code 128")], (TRACK,)),
    (
        "deduplicated-at-best-rank",
        [(TRACK, "QR Code"), ("CDEK12345678", "Code 128"), (TRACK, "Code 128")],
        (TRACK, "CDEK12345678"),
    ),
    (
        "stable-within-a-rank",
        [("CDEK12345678", "Code 128"), ("BOX-0001-A7", "Code 39"), ("ZZ99", "Code 93")],
        ("CDEK12345678", "BOX-0001-A7", "ZZ99"),
    ),
]


@pytest.mark.parametrize(
    ("found", "expected"), [c[1:] for c in RANK_CASES], ids=[c[0] for c in RANK_CASES]
)
def test_rank_codes(found: list[tuple[str, str]], expected: tuple[str, ...]) -> None:
    assert rank_codes(found) == expected
