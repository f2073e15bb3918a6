"""`propcheck bench decode DIR...` and `propcheck decode FILE...`: measure the decoder.

A benchmark folder holds photos and a ``truth.tsv`` of ``file<TAB>symbology<TAB>text``;
an empty text means the photo holds no code, so any read there is a false positive.
For each folder the pipeline (:func:`verifier.decode.decode_image`) and, in the same
run and on the same bytes, a plain single ``pyzbar.decode`` of the whole grayscale
image (QR and Code 128 only) are scored:

* found: photos with a code whose expected text is among the texts read;
* wrong: photos with a code where some text read is not the expected one;
* false positives: photos without a code where anything was read;
* median and 90th-percentile wall time per photo, from the bytes in memory to the
  result (image decoding included for both).
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
from PIL import Image, ImageOps

from verifier.decode import (
    DEFAULT_BUDGET_S,
    ImageRejected,
    decode_image,
    second_engine_available,
)

__all__ = [
    "FolderReport",
    "MethodScore",
    "TruthRow",
    "bench",
    "decode_file_json",
    "format_report",
    "read_truth",
    "run",
]


class TruthRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of ``truth.tsv``; ``text`` is empty for a photo without a code."""

    file: str
    symbology: str
    text: str


class MethodScore(msgspec.Struct, frozen=True, kw_only=True):
    """How one decoding method did on one folder."""

    method: str
    photos: int
    with_code: int
    found: int
    wrong: int
    false_positives: int
    median_ms: float
    p90_ms: float
    #: Photos with a code whose text was not read.
    missed_files: list[str]
    #: Photos with any text read that is not the expected one (with the texts).
    wrong_files: list[str]


class FolderReport(msgspec.Struct, frozen=True, kw_only=True):
    """All methods measured on one folder."""

    folder: str
    scores: list[MethodScore]


def read_truth(folder: Path) -> list[TruthRow]:
    """Parse ``folder/truth.tsv`` (missing trailing fields mean "no code")."""
    rows = []
    with (folder / "truth.tsv").open(encoding="utf-8", newline="") as fh:
        for fields in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not fields or not fields[0].strip():
                continue
            fields = [*fields, "", ""]
            rows.append(TruthRow(file=fields[0], symbology=fields[1], text=fields[2]))
    return rows


def _plain_pyzbar(data: bytes) -> list[str]:
    """The baseline: one ``pyzbar.decode`` of the whole photo in grayscale."""
    from io import BytesIO

    from pyzbar import pyzbar

    try:
        with Image.open(BytesIO(data)) as img:
            gray = ImageOps.exif_transpose(img).convert("L")
        symbols = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE, pyzbar.ZBarSymbol.CODE128])
    except Exception:  # the pyzbar 0.1.9 ZBarOrientation ValueError counts as no read
        return []
    return [s.data.decode("utf-8", errors="replace") for s in symbols]


def _pipeline(second_engine: bool, budget_s: float) -> Callable[[bytes], list[str]]:
    def method(data: bytes) -> list[str]:
        try:
            return [
                d.text for d in decode_image(data, budget_s=budget_s, second_engine=second_engine)
            ]
        except ImageRejected:
            return []

    return method


def _score(
    name: str, rows: Sequence[TruthRow], texts: Sequence[list[str]], ms: Sequence[float]
) -> MethodScore:
    found = wrong = false_pos = 0
    missed, wrong_files = [], []
    for row, read in zip(rows, texts, strict=True):
        if row.text:
            if row.text in read:
                found += 1
            else:
                missed.append(row.file)
            bad = [t for t in read if t != row.text]
            if bad:
                wrong += 1
                wrong_files.append(f"{row.file} {bad!r}")
        elif read:
            false_pos += 1
            wrong_files.append(f"{row.file} {read!r}")
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else 0.0
    return MethodScore(
        method=name,
        photos=len(rows),
        with_code=sum(1 for r in rows if r.text),
        found=found,
        wrong=wrong,
        false_positives=false_pos,
        median_ms=round(statistics.median(ordered), 1) if ordered else 0.0,
        p90_ms=round(p90, 1),
        missed_files=missed,
        wrong_files=wrong_files,
    )


def bench(
    dirs: Sequence[Path], *, both_ways: bool = False, budget_s: float = DEFAULT_BUDGET_S
) -> list[FolderReport]:
    """Score the pipeline and plain pyzbar on each folder.

    With ``both_ways`` and zxing-cpp installed, the pipeline is also scored with its
    second engine switched off, to show what the fallback adds.
    """
    methods: list[tuple[str, Callable[[bytes], list[str]]]] = []
    if second_engine_available():
        methods.append(("pipeline (pyzbar + zxing fallback)", _pipeline(True, budget_s)))
        if both_ways:
            methods.append(("pipeline (pyzbar only)", _pipeline(False, budget_s)))
    else:
        methods.append(("pipeline (pyzbar only)", _pipeline(False, budget_s)))
    methods.append(("plain pyzbar.decode", _plain_pyzbar))
    reports = []
    for folder in dirs:
        rows = read_truth(folder)
        texts: list[list[list[str]]] = [[] for _ in methods]
        times: list[list[float]] = [[] for _ in methods]
        for row in rows:
            data = (folder / row.file).read_bytes()
            for i, (_, method) in enumerate(methods):
                start = time.perf_counter()
                texts[i].append(method(data))
                times[i].append((time.perf_counter() - start) * 1000)
        scores = [_score(name, rows, texts[i], times[i]) for i, (name, _) in enumerate(methods)]
        reports.append(FolderReport(folder=str(folder), scores=scores))
    return reports


def format_report(reports: Sequence[FolderReport], *, details: bool = True) -> str:
    """Plain-text tables, one per folder, then the misses and wrong reads."""
    lines = []
    for report in reports:
        first = report.scores[0]
        lines.append(
            f"{report.folder}: {first.photos} photos, {first.with_code} with a code, "
            f"{first.photos - first.with_code} without"
        )
        lines.append(
            f"  {'method':36} {'found':>11} {'wrong':>6} {'false+':>7} "
            f"{'median ms':>10} {'p90 ms':>8}"
        )
        for s in report.scores:
            pct = 100.0 * s.found / s.with_code if s.with_code else 0.0
            found = f"{s.found}/{s.with_code} {pct:3.0f}%"
            false_pos = f"{s.false_positives}/{s.photos - s.with_code}"
            lines.append(
                f"  {s.method:36} {found:>11} {s.wrong:>6} {false_pos:>7} "
                f"{s.median_ms:>10.0f} {s.p90_ms:>8.0f}"
            )
        if details:
            for s in report.scores:
                if s.missed_files:
                    lines.append(f"  missed by {s.method}: {', '.join(s.missed_files)}")
                for entry in s.wrong_files:
                    lines.append(f"  wrong read by {s.method}: {entry}")
        lines.append("")
    return "\n".join(lines)


def run(dirs: Sequence[Path], *, both_ways: bool = False) -> str:
    """`propcheck bench decode DIR...`: the formatted report for ``dirs``."""
    return format_report(bench(dirs, both_ways=both_ways))


class _FileResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    file: str
    symbols: list[object]
    ms: float
    error: str | None = None
    message: str | None = None


def decode_file_json(path: Path | str) -> str:
    """`propcheck decode FILE...`: one JSON line with the file, its symbols and the time.

    A file that is not an acceptable image gives ``symbols: []`` with ``error`` (the
    :class:`ImageRejected` reason) and ``message``; an unreadable path raises OSError.
    """
    data = Path(path).read_bytes()
    start = time.perf_counter()
    try:
        symbols: list[object] = list(decode_image(data))
        error = message = None
    except ImageRejected as exc:
        symbols, error, message = [], exc.reason, str(exc)
    ms = round((time.perf_counter() - start) * 1000, 1)
    result = _FileResult(file=str(path), symbols=symbols, ms=ms, error=error, message=message)
    return msgspec.json.encode(result).decode()
