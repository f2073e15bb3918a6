"""Opening untrusted image bytes safely: one exception type, bounded work.

Every image that reaches propcheck comes from a phone or a stranger. This module is the
one gate: it allows only the formats asked for, refuses more pixels than the cap
before decoding, refuses animations, and turns every Pillow failure into
:class:`ImageRejected` carrying a message a person can act on.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["DEFAULT_MAX_PIXELS", "PHOTO_FORMATS", "ImageRejected", "open_image"]

#: 50 megapixels: well above a 48 MP phone photo, far below a decompression bomb.
DEFAULT_MAX_PIXELS = 50_000_000
#: Formats accepted for uploaded photos.
PHOTO_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP")


class ImageRejected(ValueError):
    """The bytes are not an image propcheck will process; ``str(exc)`` says why.

    ``reason`` is a stable short code: ``empty``, ``not_an_image``, ``format``,
    ``too_large``, ``animated``, ``truncated``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def open_image(
    data: bytes,
    *,
    formats: Iterable[str] = PHOTO_FORMATS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    transpose: bool = True,
    draft_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Decode ``data`` into a loaded Pillow image, or raise :class:`ImageRejected`.

    ``draft_size`` lets a JPEG decode at a reduced scale (1/2, 1/4, 1/8) when only a
    smaller image is needed, so a 12 MP photo is never decoded at full size for a
    thumbnail. EXIF orientation is applied when ``transpose`` is true.
    """
    allowed = tuple(f.upper() for f in formats)
    if not data:
        raise ImageRejected("empty", "The file is empty.")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then errors, above its own bomb limit; we check ourselves.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data), formats=allowed)
            width, height = img.size
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageRejected(
                    "too_large",
                    f"The image is {width}x{height} pixels; the limit is {max_pixels:,} pixels.",
                )
            if getattr(img, "n_frames", 1) > 1:
                raise ImageRejected("animated", "Animated images are not accepted.")
            if draft_size is not None and img.format == "JPEG":
                img.draft("RGB", draft_size)
            img.load()
            if transpose:
                img = ImageOps.exif_transpose(img)
    except ImageRejected:
        raise
    except UnidentifiedImageError as exc:
        fmt = ", ".join(allowed)
        raise ImageRejected("not_an_image", f"This is not a {fmt} image.") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_large", "The image has too many pixels.") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        # Truncated or corrupt data: Pillow raises OSError ("image file is truncated"),
        # SyntaxError or ValueError depending on the plugin.
        raise ImageRejected("truncated", f"The image is damaged or incomplete ({exc}).") from exc
    except Exception as exc:  # a Pillow plugin bug must never escape as a 500
        raise ImageRejected("not_an_image", f"The image could not be read ({exc}).") from exc
    return img
