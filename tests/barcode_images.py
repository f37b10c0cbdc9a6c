"""Real, deterministic images of parcel labels for the barcode-reading tests.

The label generators (:func:`code128_label`, :func:`two_barcodes_label`, :func:`qr_label`)
return encoded image bytes (PNG unless ``jpeg_quality`` is given) of a photo-like scene: a grey
"table" with uneven lighting and sensor-like noise, and on it a white label sheet with printed
text lines (Pillow's default font) and barcodes drawn by zxing-cpp's writer with their quiet
zones. :func:`no_barcode_photo` is a JPEG of shapes and text without any barcode. Odd inputs:
:func:`transparent_code128_png` (bars on a transparent background) and
:func:`declared_size_png` (a tiny file whose header declares a huge image).

The same arguments always give the same bytes (seeded noise, same Pillow), so the images can be
used in unit tests, end-to-end tests (sent as photos through the fake Telegram) and benchmarks.
A 1600x1200 label is about 2.3 MB as PNG (the noise does not compress) and 0.1-0.3 MB as JPEG.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

TABLE_GREY = 112  # label photos are built in greyscale, then tinted warm (_tinted)
INK = 25
PAPER = 249
SHEET_SHARE = 0.86  # share of the photo the label sheet covers (before rotation)

TextFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int) -> TextFont:
    return ImageFont.load_default(size=max(10, size))


def _symbol(text: str, fmt: zxingcpp.BarcodeFormat, module_px: int) -> Image.Image:
    """The barcode as a greyscale image with its quiet zones, each module ``module_px`` wide."""
    symbol = zxingcpp.create_barcode(text, fmt).to_image(scale=module_px)
    image = Image.fromarray(symbol).convert("L")
    if fmt in (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.DataMatrix):
        return image
    # Linear symbols come out one module high: stretch them to a printed label's bar height.
    height = max(image.height, image.width // 4)
    return image.resize((image.width, height), Image.Resampling.NEAREST)


def _noise(size: tuple[int, int], seed: int, amplitude: int) -> Image.Image:
    """Seeded noise centred on 128 (amplitude levels either way), as an L image."""
    rng = random.Random(seed)
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    return raw.point(lambda v: 128 - amplitude + v * (2 * amplitude + 1) // 256)


@functools.cache
def _shade(size: tuple[int, int], seed: int) -> Image.Image:
    """Uneven lighting with sensor-like noise, to multiply a scene with (cached: read-only)."""
    return ImageChops.add(_lighting(size), _noise(size, seed, 10), 1.0, -128)


def _lighting(size: tuple[int, int]) -> Image.Image:
    """A soft diagonal light falloff (255 = full light) as an L image."""
    down = Image.linear_gradient("L")
    ramp = ImageChops.add(down, down.transpose(Image.Transpose.ROTATE_90), scale=2.0)
    return ramp.resize(size, Image.Resampling.BILINEAR).point(lambda v: 255 - v * 70 // 255)


def _sheet(
    size: tuple[int, int],
    lines: list[str],
    symbols: list[tuple[str, Image.Image]],
) -> Image.Image:
    """A white label sheet: text lines at the top, then each symbol with its caption."""
    width, height = size
    sheet = Image.new("L", size, PAPER)
    draw = ImageDraw.Draw(sheet)
    draw.rectangle((4, 4, width - 5, height - 5), outline=INK, width=max(2, width // 400))
    font = _font(height // 26)
    y = height // 20
    for line in lines:
        draw.text((width // 16, y), line, fill=INK, font=font)
        y += int(font.size * 1.5) if isinstance(font, ImageFont.FreeTypeFont) else 16
    y += height // 40
    for caption, symbol in symbols:
        x = (width - symbol.width) // 2
        sheet.paste(symbol, (x, y))
        y += symbol.height + height // 80
        draw.text((x + symbol.width // 10, y), caption, fill=INK, font=font)
        y += height // 12
    return sheet


def _photo(
    sheet: Image.Image,
    size: tuple[int, int],
    *,
    rotate: float = 0.0,
    blur: float = 0.0,
    jpeg_quality: int | None = None,
    seed: int = 1,
) -> bytes:
    """Lay the sheet on the table, rotated, lit unevenly, noisy, blurred; encode it."""
    photo = Image.new("L", size, TABLE_GREY)
    mask = None
    if rotate:
        mask = Image.new("L", sheet.size, 255).rotate(rotate, expand=True)
        sheet = sheet.rotate(rotate, resample=Image.Resampling.BICUBIC, expand=True)
    fit = min(size[0] * 0.96 / sheet.width, size[1] * 0.96 / sheet.height, 1.0)
    if fit < 1.0:
        new_size = (int(sheet.width * fit), int(sheet.height * fit))
        sheet = sheet.resize(new_size, Image.Resampling.LANCZOS)
        mask = mask.resize(new_size, Image.Resampling.LANCZOS) if mask else None
    photo.paste(sheet, ((size[0] - sheet.width) // 2, (size[1] - sheet.height) // 2), mask)
    photo = ImageChops.multiply(photo, _shade(size, seed))
    if blur:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    return _encode(ImageOps.colorize(photo, black=(4, 2, 0), white=(255, 251, 242)), jpeg_quality)


def _encode(photo: Image.Image, jpeg_quality: int | None) -> bytes:
    out = io.BytesIO()
    if jpeg_quality is None:
        photo.save(out, format="PNG", compress_level=1)
    else:
        photo.save(out, format="JPEG", quality=jpeg_quality)
    return out.getvalue()


def _sheet_size(size: tuple[int, int]) -> tuple[int, int]:
    return int(size[0] * SHEET_SHARE), int(size[1] * SHEET_SHARE)


def _module_px(size: tuple[int, int]) -> int:
    """Module width that makes a 13-character Code 128 cover about 40 % of the photo's width."""
    return max(2, size[0] // 400)


ADDRESS_LINES = [
    "Yandex Market DBS  -  Order 4815162342",
    "To: Ivanov I.I., Moscow, Lenina st. 1-23",
    "From: Flowers Example LLC   Weight 1.2 kg",
]


def code128_label(
    text: str,
    *,
    size: tuple[int, int] = (1600, 1200),
    rotate: float = 0,
    blur: float = 0.0,
    jpeg_quality: int | None = None,
) -> bytes:
    """A photo of a label with one Code 128 barcode holding ``text``.

    ``rotate`` turns the label by any angle (degrees, counter-clockwise); ``blur`` is the
    Gaussian blur radius in pixels applied to the whole photo; ``jpeg_quality`` switches the
    encoding from PNG to JPEG.
    """
    symbol = _symbol(text, zxingcpp.BarcodeFormat.Code128, _module_px(size))
    sheet = _sheet(_sheet_size(size), ADDRESS_LINES, [(text, symbol)])
    return _photo(sheet, size, rotate=rotate, blur=blur, jpeg_quality=jpeg_quality)


def two_barcodes_label(
    track: str,
    ean13: str,
    *,
    size: tuple[int, int] = (1600, 1200),
    jpeg_quality: int | None = None,
) -> bytes:
    """A label with the Code 128 track code above and the goods' EAN-13 product code below."""
    module = _module_px(size)
    symbols = [
        (track, _symbol(track, zxingcpp.BarcodeFormat.Code128, module)),
        (ean13, _symbol(ean13, zxingcpp.BarcodeFormat.EAN13, module)),
    ]
    sheet = _sheet(_sheet_size(size), ADDRESS_LINES[:2], symbols)
    return _photo(sheet, size, jpeg_quality=jpeg_quality, seed=2)


def qr_label(
    text: str, *, size: tuple[int, int] = (1600, 1200), jpeg_quality: int | None = None
) -> bytes:
    """A label with one QR code holding ``text``."""
    symbol = _symbol(text, zxingcpp.BarcodeFormat.QRCode, 3 * _module_px(size))
    sheet = _sheet(_sheet_size(size), ADDRESS_LINES, [(text[:40], symbol)])
    return _photo(sheet, size, jpeg_quality=jpeg_quality, seed=3)


def no_barcode_photo(*, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A photo-like scene with shapes, text and noise but no barcode at all (a JPEG)."""
    rng = random.Random(7)
    scene = Image.new("RGB", size, (118, 112, 104))
    draw = ImageDraw.Draw(scene)
    for _ in range(40):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        w, h = rng.randrange(40, size[0] // 3), rng.randrange(40, size[1] // 3)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        else:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
    font = _font(size[1] // 20)
    for i, line in enumerate(["Fragile!", "This side up", "Keep dry", "Handle with care"]):
        xy = (size[0] // 10, size[1] // 8 + i * size[1] // 5)
        draw.text(xy, line, fill=(INK, INK, INK), font=font)
    scene = scene.filter(ImageFilter.GaussianBlur(1.0))
    return _encode(ImageChops.multiply(scene, _shade(size, 8).convert("RGB")), 80)


def transparent_code128_png(text: str) -> bytes:
    """A PNG of black Code 128 bars on a fully transparent background (as some apps export)."""
    bars = _symbol(text, zxingcpp.BarcodeFormat.Code128, 4)
    sheet = Image.new("L", (bars.width + 200, bars.height + 200), 255)
    sheet.paste(bars, (100, 100))
    image = Image.new("RGBA", sheet.size, (0, 0, 0, 0))
    image.putalpha(ImageChops.invert(sheet))  # opaque black where the bars are
    return _encode(image, None)


def declared_size_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
