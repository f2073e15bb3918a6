"""Reading small, blurred Code 128 barcodes from one deblurred, super-sampled scan line.

libzbar and zxing read a Code 128 by measuring bar and space widths along pixel rows.
On a phone photo of a small tag the modules are one to three pixels wide and blurred:
a one-module space between two bars never gets lighter than the threshold, the widths
come out wrong, and no rotation, scale or sharpening of the whole image brings them
back. But every pixel of a barcode is a sample of the same one-dimensional signal, so:

1. **locate** (:func:`find_bar_regions`): 8 px cells whose gradients all point one way
   (structure tensor coherence) and are strong are joined with neighbours of the same
   direction; each group gives a centre, the direction across the bars and a size;
2. **project**: the pixels around the group are projected onto the barcode's axis into
   bins of 1/4 px and averaged. Bars are seldom aligned with the pixel grid, so the
   samples land at all sub-pixel offsets: the line is sampled four times finer than
   the pixels, and the noise is averaged over the bar height. First the axis is
   re-measured from the region's own pixels and the bars' slant and perspective
   fan-out are fitted, to the geometry that makes the projected line sharpest;
3. **deblur**: Wiener deconvolution of the line for a few Gaussian blur widths (never
   more than 1.5 times the blur its steepest edges show: over-deconvolution rings,
   and ringing can read as another text), then a threshold at the midpoint of the
   local minimum and maximum;
4. **decode**: the binarised line is drawn as a small image and read by zxing-cpp's
   Code 128 reader, which checks the check symbol and the quiet zones.

Lines are taken over the whole bar height, its halves and its thirds (curved or fanned
bars smear less over a short band). A text is accepted only when two different
(band, blur width) pairs read it. Requires numpy and zxing-cpp.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
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
#: Blur widths (Gaussian sigma, in image pixels) and noise-to-signal ratios the
#: Wiener filter assumes, and the windows (px) of the local threshold: from light
#: defocus to bars blurred by about their own width.
_SIGMAS_PX: Final = (0.7, 1.0, 1.3, 1.6, 2.0)
_NOISE_RATIOS: Final = (0.01, 0.05)
_WINDOWS_PX: Final = (4.0, 8.0, 16.0)
#: Samples per pixel along the axis, and the most samples a line may have.
_MAX_UPSAMPLE: Final = 4
_MAX_SAMPLES: Final = 4096
#: Blur widths tried are at most this multiple of the blur the line shows.
_OVERSHOOT: Final = 1.5
#: Different (band, blur width) pairs that must read a text before it is accepted.
_MIN_VOTES: Final = 2
#: The binarised line is drawn this many rows high, with this much white either side.
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

    def scaled(self, factor: float) -> BarRegion:
        """The same region in an image ``factor`` times larger."""
        return BarRegion(
            cx=self.cx * factor,
            cy=self.cy * factor,
            angle=self.angle,
            length=self.length * factor,
            height=self.height * factor,
            weight=self.weight,
        )


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
    # Python lists: indexing them in this loop is several times faster than numpy's.
    is_strong = strong.tolist()
    seen = [[False] * cols for _ in range(rows)]
    angle = direction.tolist()
    for y0, x0 in np.argwhere(strong).tolist():
        if seen[y0][x0]:
            continue
        seen[y0][x0] = True
        stack, members = [(y0, x0)], []
        while stack:
            y, x = stack.pop()
            members.append((y, x))
            for ny in (y - 1, y, y + 1):
                for nx in (x - 1, x, x + 1):
                    if not (0 <= ny < rows and 0 <= nx < cols) or seen[ny][nx]:
                        continue
                    if not is_strong[ny][nx]:
                        continue
                    diff = (angle[ny][nx] - angle[y][x] + math.pi / 2) % math.pi - math.pi / 2
                    if abs(diff) < _JOIN_RADIANS:
                        seen[ny][nx] = True
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
    def around(
        cls, a: npt.NDArray[np.generic], region: BarRegion, length: float, height: float
    ) -> _Patch:
        """The pixels within a rectangle ``length`` x ``height`` (plus a margin that
        any bar angle or fan-out tried later stays within) around the region's axis."""
        radius = math.hypot(length, height) / 2 + 2
        x0, x1 = max(0, int(region.cx - radius)), min(a.shape[1], int(region.cx + radius) + 1)
        y0, y1 = max(0, int(region.cy - radius)), min(a.shape[0], int(region.cy + radius) + 1)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = xs - np.float32(region.cx), ys - np.float32(region.cy)
        cos, sin = np.float32(math.cos(region.angle)), np.float32(math.sin(region.angle))
        along, across = np.abs(dx * cos + dy * sin), np.abs(-dx * sin + dy * cos)
        near = (along < length * 0.6 + 2) & (across < height * 0.5 + length * 0.1 + 2)
        return cls(dx=dx[near], dy=dy[near], value=a[y0:y1, x0:x1][near].astype(np.float32))

    def line(
        self, bars: _Bars, length: float, height: float, per_px: int, offset: float = 0.0
    ) -> _Floats | None:
        """Mean grey value in bins of 1/per_px px along the axis, over a band of bars."""
        cos, sin = np.float32(math.cos(bars.angle)), np.float32(math.sin(bars.angle))
        across = -self.dx * sin + self.dy * cos
        along = self.dx * cos + self.dy * sin
        if bars.shear or bars.spread:
            # The bar through (t, 0) passes through (t + across * (shear + spread * t),
            # across): solve for t.
            shear, spread = np.float32(bars.shear), np.float32(bars.spread)
            along = (along - shear * across) / (1 + spread * across)
        along += np.float32(length / 2)
        inside = (along >= 0) & (along < length) & (np.abs(across - offset) < height / 2)
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


@dataclass(frozen=True, slots=True)
class _Bars:
    """How the bars lie around the region's centre line (the axis at ``angle``).

    The bar that crosses the centre line at ``t`` runs in direction
    ``(shear + spread * t)`` relative to the normal of the axis: ``shear`` is the bars'
    slant (a small rotation, or the region's centre being off the middle of a fan),
    ``spread`` their perspective fan-out.
    """

    angle: float
    shear: float = 0.0
    #: Relative change of the module width per pixel across the axis (0: parallel bars).
    spread: float = 0.0


def _fit_bars(patch: _Patch, angle: float, length: float, height: float) -> _Bars:
    """The bar geometry whose 1 px projection along the axis has the most edge energy.

    First around the region's ``angle``: a grid of bar slants (2 degree steps, up to 8)
    and fan-outs of bars seen at a slant (up to 30% wider at one end of the bars than
    at the other), then coordinate descent with halving steps (the far ends of a long
    barcode smear unless the fan-out is right to a fraction of a percent); then again
    with the axis turned square to the bars. A third of the pixels, chosen at random,
    suffices to rank geometries.
    """
    # A random third (fixed seed: the same photo always reads the same): a regular
    # subsample such as every third pixel would alias with bars two pixels wide.
    keep = np.random.default_rng(0).random(len(patch.value)) < 1 / 3
    sample = _Patch(dx=patch.dx[keep], dy=patch.dy[keep], value=patch.value[keep])
    energies: dict[_Bars, float] = {}

    def energy(bars: _Bars) -> float:
        if bars not in energies:
            line = sample.line(bars, length, height, 1)
            energies[bars] = -1.0 if line is None else float(np.square(np.diff(line)).sum())
        return energies[bars]

    def best(options: list[_Bars]) -> _Bars:
        return max(options, key=energy)

    bars = best(
        [
            _Bars(angle, math.tan(math.radians(degrees)), k * 0.1 / height)
            for degrees in range(-8, 9, 2)
            for k in range(-3, 4)
        ]
    )
    bars = _descend(best, bars, math.tan(math.radians(1.0)), 0.05 / height, 6)
    # Turn the axis square to the bars (a slant of the bars relative to the axis drifts
    # the scanned band off the barcode's far ends), then polish.
    bars = _Bars(bars.angle - math.atan(bars.shear), 0.0, bars.spread)
    return _descend(best, bars, math.tan(math.radians(0.5)), 0.02 / height, 4)


def _descend(
    best: Callable[[list[_Bars]], _Bars],
    bars: _Bars,
    step_shear: float,
    step_spread: float,
    rounds: int,
) -> _Bars:
    """Coordinate descent on slant and fan-out, halving the steps each round."""
    for _ in range(rounds):
        a, shear, spread = bars.angle, bars.shear, bars.spread
        bars = best(
            [bars, _Bars(a, shear - step_shear, spread), _Bars(a, shear + step_shear, spread)]
        )
        shear = bars.shear
        bars = best(
            [bars, _Bars(a, shear, spread - step_spread), _Bars(a, shear, spread + step_spread)]
        )
        step_shear, step_spread = step_shear / 2, step_spread / 2
    return bars


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


def _blur_width(line: _Floats, per_px: int) -> float:
    """The Gaussian sigma (px) a blurred step with the line's contrast and its steepest
    edges would have: contrast / (sqrt(2 pi) * slope). The 99th percentile of the slope,
    over 1 px, keeps noise from making the line look sharper than it is."""
    smooth = np.convolve(line, np.full(per_px, 1.0 / per_px), mode="same")
    slope = float(np.percentile(np.abs(np.diff(smooth)), 99)) * per_px
    contrast = float(np.percentile(line, 97) - np.percentile(line, 3))
    return contrast / (math.sqrt(2 * math.pi) * slope) if slope > 0 else 0.0


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
    """Code 128 texts read from ``regions`` of ``gray`` (checked against the clock).

    Only the pixels around each region are converted to floats, so ``gray`` may be a
    full-size photo while the regions were found on a smaller copy (see
    :meth:`BarRegion.scaled`).
    """
    a = np.asarray(gray)
    reads: list[LineRead] = []
    for region in regions:
        if time.perf_counter() >= deadline:
            break
        read = _read_region(a, region, deadline)
        if read is not None and all(r.text != read.text for r in reads):
            reads.append(read)
    return reads


def _square_to_bars(a: npt.NDArray[np.generic], region: BarRegion) -> BarRegion:
    """The region with its axis re-measured from the gradients of its own pixels.

    The cells' mean direction can be 10-15 degrees off where bars are near the pixel
    size (as in a reduced copy of the photo read again at full size); the structure
    tensor of all the pixels on the barcode is dominated by its many bar edges.
    """
    half = max(4, int(min(region.length, region.height) / 2))
    x0, x1 = max(0, int(region.cx) - half), min(a.shape[1], int(region.cx) + half + 1)
    y0, y1 = max(0, int(region.cy) - half), min(a.shape[0], int(region.cy) + half + 1)
    box = a[y0:y1, x0:x1].astype(np.float32)
    if box.shape[0] < 3 or box.shape[1] < 3:
        return region
    gx = box[1:-1, 2:] - box[1:-1, :-2]
    gy = box[2:, 1:-1] - box[:-2, 1:-1]
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    angle = 0.5 * math.atan2(2 * jxy, jxx - jyy)
    return BarRegion(
        cx=region.cx,
        cy=region.cy,
        angle=angle,
        length=region.length,
        height=region.height,
        weight=region.weight,
    )


def _read_region(a: npt.NDArray[np.generic], region: BarRegion, deadline: float) -> LineRead | None:
    # Generous along the axis (the group may miss faint end bars and needs the quiet
    # zones), a little short across (the group's cells overhang the bars' ends).
    length = region.length * 1.3 + 2 * _CELL
    height = max(6.0, region.height * 0.8)
    region = _square_to_bars(a, region)
    patch = _Patch.around(a, region, length, height)
    bars = _fit_bars(patch, region.angle, length, height)
    per_px = max(1, min(_MAX_UPSAMPLE, int(_MAX_SAMPLES / length)))
    whole = patch.line(bars, length, height, per_px)
    if whole is None:
        return None
    # Deconvolving more blur than the line shows makes ringing that reads as extra bars
    # (and, rarely, as a different text that passes the check symbol).
    limit = _OVERSHOOT * _blur_width(whole, per_px)
    sigmas = [s for s in _SIGMAS_PX if s <= limit] or [_SIGMAS_PX[0]]
    votes: dict[str, set[tuple[int, float, float, float]]] = {}
    first: dict[str, tuple[float, float, float, float]] = {}
    # The whole bar height averages the most noise; halves and thirds smear less where
    # the bars are curved or fanned out more than the fitted geometry allows.
    bands = [(height, 0.0)] + [
        (height / parts, height * ((i + 0.5) / parts - 0.5))
        for parts in (2, 3)
        for i in range(parts)
    ]
    for band, (band_height, offset) in enumerate(bands):
        if time.perf_counter() >= deadline:
            break
        line = whole if band == 0 else patch.line(bars, length, band_height, per_px, offset)
        if line is None:
            continue
        floor = 0.2 * float(np.percentile(line, 95) - np.percentile(line, 5))
        for sigma in sigmas:
            for noise_ratio in _NOISE_RATIOS:
                sharp = _wiener(line, sigma * per_px, noise_ratio)
                for window in _WINDOWS_PX:
                    for text, start, end in _code128(_binarise(sharp, int(window * per_px), floor)):
                        votes.setdefault(text, set()).add((band, sigma, noise_ratio, window))
                        first.setdefault(text, (start / per_px, end / per_px, band_height, offset))
        agreed = [t for t, v in votes.items() if len({(b, s) for b, s, _, _ in v}) >= _MIN_VOTES]
        if agreed:
            text = max(agreed, key=lambda t: len(votes[t]))
            return LineRead(text=text, corners=_corners(region, bars, length, *first[text]))
    return None


def _corners(
    region: BarRegion,
    bars: _Bars,
    length: float,
    start: float,
    end: float,
    band_height: float,
    offset: float,
) -> tuple[Point, Point, Point, Point]:
    """Corners of the read part of the barcode: its ends (from zxing) on the middle half
    of the band that read it (the region's cells can overhang the bars' ends, so the
    band's full height may not be all barcode)."""
    cos, sin = math.cos(bars.angle), math.sin(bars.angle)

    def point(along: float, across: float) -> Point:
        t0 = along - length / 2
        t = t0 + across * (bars.shear + bars.spread * t0)
        return (region.cx + t * cos - across * sin, region.cy + t * sin + across * cos)

    top, bottom = offset - band_height / 4, offset + band_height / 4
    return (point(start, top), point(end, top), point(end, bottom), point(start, bottom))
