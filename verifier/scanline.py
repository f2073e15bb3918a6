"""Reading small, blurred Code 128 barcodes from one deblurred, super-sampled scan line.

libzbar and zxing read a Code 128 by measuring bar and space widths along pixel rows.
On a phone photo of a small tag the modules are one to three pixels wide and blurred:
a one-module space between two bars never gets lighter than the threshold, the widths
come out wrong, and no rotation, scale or sharpening of the whole image brings them
back. But every pixel of a barcode is a sample of the same one-dimensional signal, so:

1. **locate** (:func:`find_bar_regions`): 8 px cells whose gradients all point one way
   (structure tensor coherence) and are strong are joined with neighbours of the same
   direction; each group gives a centre, the direction across the bars and a size;
2. **project**: the group's pixels are projected onto the barcode's axis into bins of
   1/4 px and averaged. Bars are seldom aligned with the pixel grid, so the samples
   land at all sub-pixel offsets: the line is sampled four times finer than the pixels,
   and the noise is averaged over the bar height. The bar angle is refined first, to
   the angle that makes the projected line sharpest;
3. **deblur**: Wiener deconvolution of the line for a few Gaussian blur widths, then a
   threshold at the midpoint of the local minimum and maximum;
4. **decode**: the binarised line is drawn as a small image and read by zxing-cpp's
   Code 128 reader, which checks the check symbol and the quiet zones.

A text is accepted only when two different scan bands or blur widths read it.
Requires numpy and zxing-cpp.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import zxingcpp
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["BarRegion", "LineRead", "find_bar_regions", "read_bar_regions"]

Point = tuple[float, float]
_Floats = npt.NDArray[np.float64]

#: Side of the cells the structure tensor is summed over, in working-image pixels.
_CELL: Final = 8
#: A cell belongs to a barcode when its gradients agree this much (0 = any, 1 = all one
#: way) and their mean square exceeds this (grey levels per pixel, squared): a printed
#: barcode under poor light still has edges of 10+ grey levels per pixel.
_MIN_COHERENCE: Final = 0.5
_MIN_ENERGY: Final = 25.0
#: Neighbouring cells join one region when their directions differ by less than this.
_JOIN_RADIANS: Final = math.radians(12)
_MIN_CELLS: Final = 4
#: Blur widths (Gaussian sigma, in working-image pixels) and noise-to-signal ratios the
#: Wiener filter assumes, and the windows (px) of the local threshold: from light
#: defocus to bars blurred by about their own width.
_SIGMAS_PX: Final = (0.7, 1.2, 2.0)
_NOISE_RATIOS: Final = (0.01, 0.05)
_WINDOWS_PX: Final = (4.0, 8.0, 16.0)
#: Samples per pixel along the axis, and the most samples a line may have.
_MAX_UPSAMPLE: Final = 4
_MAX_SAMPLES: Final = 4096
_ROW_HEIGHT: Final = 8
_QUIET: Final = 48
_CODE128: Final = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128)


@dataclass(frozen=True, slots=True)
class BarRegion:
    """Where a barcode may be: centre, axis direction (across the bars) and size (px)."""

    cx: float
    cy: float
    #: Direction of the barcode's axis, radians (x right, y down).
    angle: float
    #: Extent along the axis and along the bars.
    length: float
    height: float
    #: Sum of the member cells' coherent edge energy: the ranking key.
    weight: float


@dataclass(frozen=True, slots=True)
class LineRead:
    """A Code 128 text read from a region, with the barcode's corners (image px)."""

    text: str
    corners: tuple[Point, Point, Point, Point]


# --------------------------------------------------------------------------- locate


def find_bar_regions(gray: npt.NDArray[np.generic], *, limit: int = 6) -> list[BarRegion]:
    """The most barcode-like regions of a grayscale image, strongest first."""
    a = np.asarray(gray, dtype=np.float32)
    rows, cols = a.shape[0] // _CELL, a.shape[1] // _CELL
    if rows < 2 or cols < 2:
        return []
    gx = np.zeros_like(a)
    gy = np.zeros_like(a)
    gx[:, 1:-1] = a[:, 2:] - a[:, :-2]
    gy[1:-1, :] = a[2:, :] - a[:-2, :]

    def cell_sum(v: npt.NDArray[np.float32]) -> _Floats:
        v = v[: rows * _CELL, : cols * _CELL]
        return v.reshape(rows, _CELL, cols, _CELL).sum(axis=(1, 3), dtype=np.float64)

    # Central differences are twice the gradient: divide the products by 4.
    jxx, jyy, jxy = cell_sum(gx * gx) / 4, cell_sum(gy * gy) / 4, cell_sum(gx * gy) / 4
    energy = jxx + jyy
    coherence = np.hypot(jxx - jyy, 2 * jxy) / np.maximum(energy, 1e-9)
    direction = 0.5 * np.arctan2(2 * jxy, jxx - jyy)  # of the gradient: across the bars
    strong = (coherence >= _MIN_COHERENCE) & (energy >= _MIN_ENERGY * _CELL * _CELL)
    weight = energy * coherence * coherence
    regions = [
        _region(cells, direction, weight)
        for cells in _groups(strong, direction)
        if len(cells) >= _MIN_CELLS
    ]
    regions.sort(key=lambda r: -r.weight)
    return regions[:limit]


def _groups(strong: npt.NDArray[np.bool_], direction: _Floats) -> Iterator[list[tuple[int, int]]]:
    """Connected groups of strong cells (8-neighbours) whose directions agree."""
    rows, cols = strong.shape
    seen = np.zeros_like(strong)
    angle = direction.tolist()
    for y0, x0 in np.argwhere(strong).tolist():
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        stack, members = [(y0, x0)], []
        while stack:
            y, x = stack.pop()
            members.append((y, x))
            for ny in (y - 1, y, y + 1):
                for nx in (x - 1, x, x + 1):
                    if not (0 <= ny < rows and 0 <= nx < cols) or seen[ny, nx]:
                        continue
                    if not strong[ny, nx]:
                        continue
                    diff = (angle[ny][nx] - angle[y][x] + math.pi / 2) % math.pi - math.pi / 2
                    if abs(diff) < _JOIN_RADIANS:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        yield members


def _region(cells: list[tuple[int, int]], direction: _Floats, weight: _Floats) -> BarRegion:
    ys = np.array([c[0] for c in cells])
    xs = np.array([c[1] for c in cells])
    w = weight[ys, xs]
    # Mean of doubled angles: directions theta and theta + pi are the same axis.
    doubled = 2 * direction[ys, xs]
    theta = 0.5 * math.atan2(float((w * np.sin(doubled)).sum()), float((w * np.cos(doubled)).sum()))
    cos, sin = math.cos(theta), math.sin(theta)
    px, py = (xs + 0.5) * _CELL, (ys + 0.5) * _CELL
    along, across = px * cos + py * sin, -px * sin + py * cos
    mid_a = (along.max() + along.min()) / 2
    mid_c = (across.max() + across.min()) / 2
    return BarRegion(
        cx=float(mid_a * cos - mid_c * sin),
        cy=float(mid_a * sin + mid_c * cos),
        angle=theta,
        length=float(along.max() - along.min() + _CELL),
        height=float(across.max() - across.min() + _CELL),
        weight=float(w.sum()),
    )


# --------------------------------------------------------------------------- project


@dataclass(frozen=True, slots=True)
class _Patch:
    """The pixels around a region, as offsets from its centre and grey values."""

    dx: npt.NDArray[np.float32]
    dy: npt.NDArray[np.float32]
    value: npt.NDArray[np.float32]

    @classmethod
    def around(cls, a: npt.NDArray[np.float32], region: BarRegion, radius: float) -> _Patch:
        x0, x1 = max(0, int(region.cx - radius)), min(a.shape[1], int(region.cx + radius) + 1)
        y0, y1 = max(0, int(region.cy - radius)), min(a.shape[0], int(region.cy + radius) + 1)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        return cls(
            dx=(xs - np.float32(region.cx)).ravel(),
            dy=(ys - np.float32(region.cy)).ravel(),
            value=a[y0:y1, x0:x1].ravel(),
        )

    def line(
        self, angle: float, length: float, height: float, per_px: int, offset: float = 0.0
    ) -> _Floats | None:
        """Mean grey value in bins of 1/per_px px along ``angle``, over a band of bars."""
        cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
        along = self.dx * cos + self.dy * sin + np.float32(length / 2)
        across = -self.dx * sin + self.dy * cos - np.float32(offset)
        inside = (along >= 0) & (along < length) & (np.abs(across) < height / 2)
        n = int(length * per_px)
        if n < 16:
            return None
        bins = np.minimum((along[inside] * per_px).astype(np.int64), n - 1)
        sums = np.bincount(bins, weights=self.value[inside], minlength=n)
        counts = np.bincount(bins, minlength=n)
        filled = counts > 0
        if filled.sum() < n // 2:
            return None
        index = np.arange(n)
        return np.interp(index, index[filled], sums[filled] / counts[filled])


def _sharpest_angle(patch: _Patch, angle: float, length: float, height: float) -> float:
    """The bar angle near ``angle`` whose 1 px projection has the most edge energy."""

    def energy(candidate: float) -> float:
        line = patch.line(candidate, length, height, 1)
        return -1.0 if line is None else float(np.square(np.diff(line)).sum())

    best = max((energy(angle + math.radians(d)), angle + math.radians(d)) for d in range(-6, 7, 2))
    fine = [best[1] + math.radians(d / 4) for d in range(-4, 5) if d]
    return max([best, *((energy(c), c) for c in fine)])[1]


# --------------------------------------------------------------------------- deblur


def _wiener(line: _Floats, sigma: float, noise_ratio: float) -> _Floats:
    """Deconvolve a Gaussian blur of ``sigma`` samples (regularised by ``noise_ratio``)."""
    n = len(line)
    size = 1 << (2 * n - 1).bit_length()
    padded = np.pad(line, (0, size - n), mode="edge")
    freq = np.fft.rfftfreq(size)
    gain = np.exp(-2 * (np.pi * freq * sigma) ** 2)
    spectrum = np.fft.rfft(padded) * gain / (gain * gain + noise_ratio)
    return np.fft.irfft(spectrum, size)[:n]


def _binarise(line: _Floats, window: int, floor: float) -> npt.NDArray[np.uint8]:
    """Dark (0) below the midpoint of the local extremes; flat stretches stay white."""
    padded = np.pad(line, (window, window), mode="edge")
    view = sliding_window_view(padded, 2 * window + 1)
    high, low = view.max(axis=1), view.min(axis=1)
    dark = (line < (high + low) / 2) & (high - low > floor)
    return np.where(dark, 0, 255).astype(np.uint8)


def _code128(bits: npt.NDArray[np.uint8]) -> list[tuple[str, float, float]]:
    """zxing's Code 128 reader on a binarised line: (text, start x, end x) in samples."""
    white = np.full(_QUIET, 255, np.uint8)
    row = np.concatenate([white, bits, white])
    image = np.ascontiguousarray(np.broadcast_to(row, (_ROW_HEIGHT, len(row))))
    found = zxingcpp.read_barcodes(
        image,
        formats=_CODE128,
        try_rotate=False,
        try_downscale=False,
        try_invert=False,
        text_mode=zxingcpp.TextMode.Plain,
    )
    out = []
    for barcode in found:
        pos = barcode.position
        xs = [p.x for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)]
        out.append((barcode.text, float(min(xs) - _QUIET), float(max(xs) - _QUIET)))
    return out


# --------------------------------------------------------------------------- read


def read_bar_regions(
    gray: npt.NDArray[np.generic], regions: list[BarRegion], deadline: float
) -> list[LineRead]:
    """Code 128 texts read from ``regions`` of ``gray`` (checked against the clock)."""
    a = np.asarray(gray, dtype=np.float32)
    reads: list[LineRead] = []
    for region in regions:
        if time.perf_counter() >= deadline:
            break
        read = _read_region(a, region, deadline)
        if read is not None and all(r.text != read.text for r in reads):
            reads.append(read)
    return reads


def _read_region(a: npt.NDArray[np.float32], region: BarRegion, deadline: float) -> LineRead | None:
    # Generous along the axis (the group may miss faint end bars and needs the quiet
    # zones), a little short across (the group's cells overhang the bars' ends).
    length = region.length * 1.3 + 2 * _CELL
    height = max(6.0, region.height * 0.8)
    patch = _Patch.around(a, region, math.hypot(length, height) / 2 + 2)
    angle = _sharpest_angle(patch, region.angle, length, height)
    per_px = max(1, min(_MAX_UPSAMPLE, int(_MAX_SAMPLES / length)))
    votes: dict[str, set[tuple[int, int]]] = {}
    first: dict[str, tuple[float, float, float, float]] = {}
    bands = ((height, 0.0), (height / 2, -height / 4), (height / 2, height / 4))
    for band, (band_height, offset) in enumerate(bands):
        if time.perf_counter() >= deadline:
            break
        line = patch.line(angle, length, band_height, per_px, offset)
        if line is None:
            continue
        floor = 0.2 * float(np.percentile(line, 95) - np.percentile(line, 5))
        for blur, sigma in enumerate(_SIGMAS_PX):
            for noise_ratio in _NOISE_RATIOS:
                sharp = _wiener(line, sigma * per_px, noise_ratio)
                for window in _WINDOWS_PX:
                    for text, start, end in _code128(_binarise(sharp, int(window * per_px), floor)):
                        votes.setdefault(text, set()).add((band, blur))
                        first.setdefault(text, (start / per_px, end / per_px, band_height, offset))
        agreed = [t for t, v in votes.items() if len(v) >= 2]
        if agreed:
            text = max(agreed, key=lambda t: len(votes[t]))
            return LineRead(text=text, corners=_corners(region, angle, length, *first[text]))
    return None


def _corners(
    region: BarRegion,
    angle: float,
    length: float,
    start: float,
    end: float,
    band_height: float,
    offset: float,
) -> tuple[Point, Point, Point, Point]:
    """The read barcode's rectangle (ends from zxing, height of the scanned band)."""
    cos, sin = math.cos(angle), math.sin(angle)

    def point(along: float, across: float) -> Point:
        t = along - length / 2
        return (region.cx + t * cos - across * sin, region.cy + t * sin + across * cos)

    top, bottom = offset - band_height / 2, offset + band_height / 2
    return (point(start, top), point(end, top), point(end, bottom), point(start, bottom))
