"""``propcheck bench audit``: build a large production, time the chain check and status.

The benchmark works in its own database (propcheck_bench) on the configured server and
drops it afterwards (unless --keep), so it never touches real data. The state tables are
filled with set-based INSERTs; the events go through the real propcheck_append_event, a
few hundred per transaction (one transaction per event would mostly measure commits;
one transaction for all of them would pile up versions of the chain-head row).
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import asyncpg

from api.audit_io import verify_database
from api.migrate import apply_migrations
from api.sql import q
from api.status import production_status

__all__ = ["run"]

_APPEND_BATCH = 250


def _sibling(dsn: str, name: str) -> str:
    """The URL of database ``name`` on the same server as ``dsn``."""
    head, sep, query = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


async def _fill(conn: asyncpg.Connection, events: int, items: int, say: Any) -> uuid.UUID:
    studio = await conn.fetchval(q("bench_studio"), "Bench studio")
    production: uuid.UUID = await conn.fetchval(q("bench_production"), studio, "Bench production")
    await conn.execute(q("bench_items"), production, items)
    await conn.execute(q("bench_inspections"), production, 3)
    verifications = max(events // 2, 1)
    await conn.execute(q("bench_verifications"), production, verifications)
    await conn.execute(q("bench_incidents"), production, max(items // 50, 1))
    await conn.execute(q("bench_checkouts"), production, max(items // 5, 1))
    say(f"  state: {items} items, {verifications} verifications, inspections, incidents")
    done = 0
    t = time.perf_counter()
    while done < events:
        n = min(_APPEND_BATCH, events - done)
        async with conn.transaction():
            await conn.fetchval(q("bench_events"), production, n)
        done += n
        if done % 100_000 < _APPEND_BATCH:
            rate = done / (time.perf_counter() - t)
            say(f"  events: {done}/{events} ({rate:,.0f}/s)")
    await conn.execute(q("bench_analyze"))
    return production


async def run(
    dsn: str, events: int, items: int, *, keep: bool = False, say: Any = print
) -> dict[str, Any]:
    """Build the benchmark production and time the checks; returns the figures."""
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(q("bench_drop_database"))
        await admin.execute(q("bench_create_database"))
    finally:
        await admin.close()
    conn = await asyncpg.connect(_sibling(dsn, "propcheck_bench"))
    figures: dict[str, Any] = {"events": events, "items": items}
    try:
        await apply_migrations(conn)
        await conn.execute(q("bench_fast_commits"))
        t = time.perf_counter()
        production = await _fill(conn, events, items, say)
        figures["build_s"] = round(time.perf_counter() - t, 1)
        say(f"built in {figures['build_s']} s")

        t = time.perf_counter()
        (result,) = await verify_database(conn, production)
        verify_s = time.perf_counter() - t
        report = result.report
        figures["verify_s"] = round(verify_s, 2)
        figures["verify_events_per_s"] = round(report.events / verify_s)
        figures["verify_ok"] = report.ok
        say(
            f"verify: {report.events} events in {verify_s:.2f} s "
            f"({report.events / verify_s:,.0f}/s), {'OK' if report.ok else report.problem}"
        )

        timings = []
        status = None
        for _ in range(7):
            t = time.perf_counter()
            status = await production_status(conn, production)
            timings.append(time.perf_counter() - t)
        assert status is not None
        figures["status_ms"] = {
            "first": round(timings[0] * 1000, 1),
            "median": round(statistics.median(timings) * 1000, 1),
            "max": round(max(timings) * 1000, 1),
        }
        figures["status"] = status.status
        figures["reasons"] = {r.code: r.count for r in status.reasons}
        say(
            f"status: {status.status} in {figures['status_ms']['median']} ms median "
            f"({figures['status_ms']['first']} ms first, {figures['status_ms']['max']} ms max); "
            f"reasons {figures['reasons']}"
        )
    finally:
        await conn.close()
        if not keep:
            admin = await asyncpg.connect(dsn)
            try:
                await admin.execute(q("bench_drop_database"))
            finally:
                await admin.close()
    return figures
