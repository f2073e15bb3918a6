"""Time since a moment, on the two clocks that must agree for it to be trusted.

In-process caches (kept tag facts, resolved tokens) measure how long ago they read
something. The monotonic clock alone stops while the host sleeps (a laptop running the
embedded server, lid closed overnight), so on waking a kept entry would look as young
as when the lid closed: a token signed out meanwhile still accepted, an inspection that
lapsed overnight judged fresh. The wall clock goes on through a sleep but can be set.
An age is trusted only when both clocks agree on it, and is then the larger of the two.
"""

from __future__ import annotations

import time

__all__ = ["Stamp", "elapsed", "stamp"]

#: (time.monotonic(), time.time()) at one moment.
Stamp = tuple[float, float]

#: How far the two clocks' measures of one age may differ, seconds.
_AGREE_S = 1.0


def stamp() -> Stamp:
    """Now, on both clocks."""
    return time.monotonic(), time.time()


def elapsed(since: Stamp) -> float | None:
    """Seconds since ``since``, or None when the clocks disagree by more than a second
    (the host slept, or its clock was set): the caller then reads afresh."""
    mono = time.monotonic() - since[0]
    wall = time.time() - since[1]
    if abs(wall - mono) > _AGREE_S:
        return None
    return max(mono, wall)
