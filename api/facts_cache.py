"""The facts of recently scanned tags, kept in this process's memory.

A verify by code reads everything its verdict needs about the tag (verify_facts: the
tag, its item and production, inspections, incidents, custody, recent hand-offs,
photos). On a set the same few props are scanned again and again, and that query was
about a fifth of a verify's CPU (propcheck bench verify). So the row is kept here,
keyed by the canonical code, and reused.

Why a kept row can never produce a wrong verdict: the row carries its item's and its
production's facts_version, which the database bumps on every change to anything the
verdict reads (triggers, migration 0007, so every write path, in every process, is
covered). The verification is recorded only if those versions are still current, in
the same statement that records it (api/queries/recorder.sql); otherwise the caller
drops the entry, reads the facts again and decides again.

The versions say nothing about time. The time-dependent facts (inspection age, the
hand-off window) are judged at the database's clock at the read plus the time since,
measured by api/clock.py: an entry whose age the host's two clocks disagree on (the
host slept, or its clock was set) is dropped and read again. A step of the database
host's own clock is not caught here, as it is not for a scan read afresh either. The
recording statement judges the inspection's age once more, at its own time (migration
0017).

``ttl_s`` bounds how long an entry is used at all (an hour by default: the takes of a
set, where a prop is scanned again every 10-30 minutes), and the number of entries is
capped (the whole cache is dropped when full, like the token cache). A row whose
versions went stale (on a set, after a check-out, a check-in or an inspection of the
item) costs its scan one more recording attempt and a fresh read; a hand-off scan, which
always bumps its item's version, drops its own row at once (api/verify.py). With a row,
the item as the verify answer shows it (signed photo URLs and all) is kept too, built
once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from api.clock import Stamp, elapsed

__all__ = ["FactsCache"]

#: About 1.5 kB each (the row with its photos' and policy's JSON): ~30 MB at most.
_MAX_ENTRIES = 20_000


class FactsCache:
    """verify_facts rows by canonical tag code, each with the moment it was read."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        # code -> [read_at, row, item view or None]
        self._rows: dict[str, list[Any]] = {}

    def get(self, code: str) -> tuple[asyncpg.Record, datetime, Any] | None:
        """The kept row, the database time now (its db_now plus the time since the
        read) and the kept item view (None until built), or None when there is no row,
        it is older than ttl_s, or the host slept or had its clock set since the read."""
        if self.ttl_s <= 0:
            return None
        hit = self._rows.get(code)
        if hit is None:
            return None
        read_at, row, view = hit
        age = elapsed(read_at)
        if age is None or age > self.ttl_s:
            del self._rows[code]
            return None
        now: datetime = row["db_now"] + timedelta(seconds=age)
        return row, now, view

    def put(self, code: str, row: asyncpg.Record, read_at: Stamp) -> None:
        """Keep ``row``, read at ``read_at`` (clock.stamp() just before the query: a
        sleep during the query then shows as the clocks disagreeing, like one after)."""
        if self.ttl_s <= 0:
            return
        if len(self._rows) >= _MAX_ENTRIES:
            self._rows.clear()
        self._rows[code] = [read_at, row, None]

    def keep_view(self, code: str, row: asyncpg.Record, view: Any) -> None:
        """Keep the item view built from ``row``, if ``row`` is still the kept one."""
        hit = self._rows.get(code)
        if hit is not None and hit[1] is row:
            hit[2] = view

    def forget(self, code: str) -> None:
        """Drop the row of ``code`` (its versions were stale)."""
        self._rows.pop(code, None)
