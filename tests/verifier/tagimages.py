"""Test helper: render propcheck tags and paste them into photo-like scenes.

Tags are made on the fly (segno for QR, python-barcode's Code 128 module pattern),
drawn with Pillow, then placed on a textured background with rotation, perspective,
blur, noise and reduced contrast. Every scene knows where the symbol's corners landed,
so tests can check the decoder's points, not only its text.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import barcode
import segno
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

__all__ = [
    "Scene",
    "Tag",
    "code128_tag",
    "encode",
    "place",
    "qr_tag",
    "structured_append_qr",
    "textured_background",
]

Point = tuple[float, float]


@dataclass(frozen=True)
class Tag:
    """A printed label: ``image`` (L mode) and the symbol's corners inside it."""

    image: Image.Image
    corners: tuple[Point, Point, Point, Point]


@dataclass(frozen=True)
class Scene:
    """A photo-like image and where the symbol's corners are in it."""

    image: Image.Image
    corners: tuple[Point, Point, Point, Point]

    @property
    def center(self) -> Point:
        """The symbol's centre in the scene."""
        return (
            sum(p[0] for p in self.corners) / 4,
            sum(p[1] for p in self.corners) / 4,
        )


def qr_tag(text: str, *, module_px: int = 6, border: int = 4) -> Tag:
    """A QR code on a white label with a ``border``-module quiet zone."""
    qr = segno.make(text, error="m", micro=False)
    matrix = qr.matrix
    size = len(matrix)
    side = (size + 2 * border) * module_px
    img = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(img)
    for row, line in enumerate(matrix):
        for col, dark in enumerate(line):
            if dark:
                x, y = (col + border) * module_px, (row + border) * module_px
                draw.rectangle((x, y, x + module_px - 1, y + module_px - 1), fill=0)
    lo, hi = border * module_px, (border + size) * module_px
    return Tag(image=img, corners=((lo, lo), (hi, lo), (hi, hi), (lo, hi)))


def code128_tag(text: str, *, module_px: int = 3, height_px: int = 90, quiet: int = 12) -> Tag:
    """A Code 128 barcode (python-barcode's module pattern) on a white label."""
    modules = barcode.get("code128", text).build()[0]
    width = (len(modules) + 2 * quiet) * module_px
    img = Image.new("L", (width, height_px + 2 * quiet), 255)
    draw = ImageDraw.Draw(img)
    for i, bit in enumerate(modules):
        if bit == "1":
            x = (quiet + i) * module_px
            draw.rectangle((x, quiet, x + module_px - 1, quiet + height_px - 1), fill=0)
    x0, x1 = quiet * module_px, (quiet + len(modules)) * module_px
    y0, y1 = quiet, quiet + height_px
    return Tag(image=img, corners=((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def structured_append_qr(text: str, *, parts: int = 2, module_px: int = 5) -> Image.Image:
    """Several structured-append QR symbols side by side (one message split in parts).

    libzbar merges them into one symbol whose orientation is "unknown", which makes
    pyzbar 0.1.9 raise ``ValueError: 4294967295 is not a valid ZBarOrientation``.
    """
    symbols = segno.make_sequence(text, symbol_count=parts, error="m")
    images = []
    for qr in symbols:
        buf = io.BytesIO()
        qr.save(buf, kind="png", scale=module_px, border=4)
        images.append(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    canvas = Image.new("L", (sum(i.width for i in images), max(i.height for i in images)), 255)
    x = 0
    for img in images:
        canvas.paste(img, (x, 0))
        x += img.width
    return canvas


def textured_background(size: tuple[int, int], *, seed: int = 0, level: int = 110) -> Image.Image:
    """A mid-grey, blotchy surface with a few darker and lighter shapes."""
    rng = random.Random(seed)
    noise = _grain((max(1, size[0] // 8), max(1, size[1] // 8)), 30, seed)
    img = noise.resize(size, Image.Resampling.BICUBIC)
    img = img.point(lambda v: max(0, min(255, level + (v - 128) // 2)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        w, h = size[0] // rng.randint(10, 30), size[1] // rng.randint(10, 30)
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        shade = rng.choice((40, 70, 160, 200))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=shade)
        else:
            draw.rectangle((x, y, x + w // 4, y + h * 3), fill=shade)
    return img


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8 unknowns: no numpy needed)."""
    n = len(rhs)
    rows = [[*row, value] for row, value in zip(matrix, rhs, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def _homography(src: list[Point], dst: list[Point]) -> list[float]:
    """Coefficients (a..h) mapping ``src`` points onto ``dst`` points."""
    matrix, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return _solve(matrix, rhs)


def _apply(h: list[float], p: Point) -> Point:
    a, b, c, d, e, f, g, k = h
    w = g * p[0] + k * p[1] + 1
    return ((a * p[0] + b * p[1] + c) / w, (d * p[0] + e * p[1] + f) / w)


def place(
    tag: Tag,
    *,
    size: tuple[int, int] = (1200, 900),
    at: Point = (0.5, 0.5),
    scale: float = 1.0,
    angle: float = 0.0,
    tilt: float = 0.0,
    blur: float = 0.0,
    noise: float = 0.0,
    contrast: float = 1.0,
    brightness: float = 1.0,
    background: Image.Image | None = None,
    seed: int = 0,
) -> Scene:
    """Paste ``tag`` into a scene; return the scene and the symbol's corners in it.

    ``at`` is the tag centre as fractions of the scene size; ``angle`` rotates it
    (degrees, counter-clockwise); ``tilt`` narrows its top edge by that fraction
    (perspective, as when the phone is not square to the label); ``blur`` is a Gaussian
    radius, ``noise`` the sigma of added grey noise, ``contrast`` and ``brightness``
    Pillow enhancement factors (below 1 = flatter, darker).
    """
    scene = background.copy() if background is not None else textured_background(size, seed=seed)
    w, h = tag.image.size
    cx, cy = at[0] * scene.width, at[1] * scene.height
    half_w, half_h = w * scale / 2, h * scale / 2
    local = [
        (-half_w * (1 - tilt), -half_h),
        (half_w * (1 - tilt), -half_h),
        (half_w, half_h),
        (-half_w, half_h),
    ]
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    # Counter-clockwise on screen, where y grows downwards.
    quad = [(cx + x * cos + y * sin, cy - x * sin + y * cos) for x, y in local]
    tag_box: list[Point] = [(0, 0), (w, 0), (w, h), (0, h)]
    backward = _homography(quad, tag_box)
    forward = _homography(tag_box, quad)
    warped = tag.image.transform(
        scene.size, Image.Transform.PERSPECTIVE, backward, Image.Resampling.BICUBIC, fillcolor=0
    )
    mask = Image.new("L", tag.image.size, 255).transform(
        scene.size, Image.Transform.PERSPECTIVE, backward, Image.Resampling.BILINEAR, fillcolor=0
    )
    scene.paste(warped, (0, 0), mask)
    if blur:
        scene = scene.filter(ImageFilter.GaussianBlur(blur))
    if contrast != 1.0:
        scene = ImageEnhance.Contrast(scene).enhance(contrast)
    if brightness != 1.0:
        scene = ImageEnhance.Brightness(scene).enhance(brightness)
    if noise:
        scene = ImageChops.add(scene, _grain(scene.size, noise, seed), scale=1.0, offset=-128)
    c0, c1, c2, c3 = (_apply(forward, p) for p in tag.corners)
    return Scene(image=scene, corners=(c0, c1, c2, c3))


def _grain(size: tuple[int, int], sigma: float, seed: int) -> Image.Image:
    """Gaussian grey noise centred on 128, reproducible (Pillow's effect_noise is not).

    A 128 px tile of seeded noise repeated over the image: cheap, and its period is far
    longer than any module.
    """
    rng = random.Random(seed)
    tile = Image.new("L", (128, 128))
    tile.putdata([max(0, min(255, round(rng.gauss(128, sigma)))) for _ in range(128 * 128)])
    grain = Image.new("L", size)
    for x in range(0, size[0], 128):
        for y in range(0, size[1], 128):
            grain.paste(tile, (x, y))
    return grain


def encode(
    img: Image.Image,
    fmt: str = "JPEG",
    *,
    quality: int = 90,
    exif_orientation: int | None = None,
) -> bytes:
    """Image -> file bytes; ``exif_orientation`` sets the EXIF Orientation tag."""
    buf = io.BytesIO()
    params: dict[str, object] = {}
    if fmt == "JPEG":
        params["quality"] = quality
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        params["exif"] = exif.tobytes()
    img.save(buf, fmt, **params)
    return buf.getvalue()
