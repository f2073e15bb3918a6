"""Draw the PWA icons (192, 512 and a maskable 512) with Pillow.

The mark is a white tag with a check mark on a dark slate square: readable at 48 px on
a home screen, no text to blur. The maskable icon keeps the mark inside the central
80 % "safe zone" that launchers may crop to a circle. Run after changing the design:

    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

__all__ = ["draw_icon", "main"]

OUT = Path(__file__).resolve().parent.parent / "pwa" / "icons"
BACKGROUND = (17, 24, 39)  # the theme colour in manifest.webmanifest
TAG = (255, 255, 255)
CHECK = (21, 128, 61)  # the CLEARED green


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    """One square icon; ``maskable`` shrinks the mark into the safe zone and fills the
    whole square (launchers supply the shape)."""
    scale = 4  # draw large, then downsample, for smooth edges
    s = size * scale
    img = Image.new("RGB", (s, s), BACKGROUND)
    d = ImageDraw.Draw(img)
    extent = 0.56 if maskable else 0.74
    w = s * extent
    h = w * 0.62
    x0 = (s - w) / 2
    y0 = (s - h) / 2
    notch = h / 2
    # A luggage-tag outline: a rectangle with a pointed left end and a hole.
    d.polygon(
        [
            (x0 + notch, y0),
            (x0 + w, y0),
            (x0 + w, y0 + h),
            (x0 + notch, y0 + h),
            (x0, y0 + h / 2),
        ],
        fill=TAG,
    )
    r = h * 0.1
    cx, cy = x0 + notch * 0.75, y0 + h / 2
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=BACKGROUND)
    # The check mark.
    line = max(2, int(h * 0.14))
    px = x0 + notch + (w - notch) * 0.18
    pts = [
        (px, y0 + h * 0.52),
        (px + (w - notch) * 0.22, y0 + h * 0.76),
        (px + (w - notch) * 0.62, y0 + h * 0.26),
    ]
    d.line(pts, fill=CHECK, width=line, joint="curve")
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write icon-192.png, icon-512.png and maskable-512.png into pwa/icons/."""
    OUT.mkdir(parents=True, exist_ok=True)
    draw_icon(192, maskable=False).save(OUT / "icon-192.png", optimize=True)
    draw_icon(512, maskable=False).save(OUT / "icon-512.png", optimize=True)
    draw_icon(512, maskable=True).save(OUT / "maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
