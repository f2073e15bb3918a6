"""A fake camera: a YUV4MPEG2 video of a tag's QR code for Chromium's
--use-file-for-fake-video-capture (issue 7, item 10a).

Y4M is a text header, then per frame "FRAME\\n" and the raw Y, U and V planes (4:2:0:
U and V at half width and height). The QR is drawn with segno, as the printed label.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_tag_video"]


def write_tag_video(
    path: Path, text: str, *, width: int = 640, height: int = 480, frames: int = 4
) -> Path:
    """Write a short video showing the QR of ``text`` centred on a grey card."""
    import segno
    from PIL import Image

    qr = segno.make_qr(text, error="m")
    side = int(min(width, height) * 0.7)
    modules = qr.symbol_size(scale=1, border=4)[0]
    scale = max(1, side // modules)
    symbol = Image.new("L", (modules * scale, modules * scale), 255)
    px = symbol.load()
    for y, row in enumerate(qr.matrix_iter(border=4)):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    for dx in range(scale):
                        px[x * scale + dx, y * scale + dy] = 0
    frame = Image.new("RGB", (width, height), (150, 150, 150))
    frame.paste(
        symbol.convert("RGB"),
        ((width - symbol.width) // 2, (height - symbol.height) // 2),
    )
    y, u, v = frame.convert("YCbCr").split()
    u = u.resize((width // 2, height // 2))
    v = v.resize((width // 2, height // 2))
    data = y.tobytes() + u.tobytes() + v.tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(data)
    return path
