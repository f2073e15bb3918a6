"""Reading chains for the checker: from the database (streamed) or from an export file.

The database is read inside one read-only REPEATABLE READ transaction, so the chain
heads and the events are one consistent snapshot even while the API keeps appending;
events come through a server-side cursor in large batches, so a million events never
sit in memory at once. An export is JSON lines: a header object, then one object per
event with every hashed field and the hash; :func:`verify_file` needs no database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import asyncpg
import msgspec

from api.audit import GENESIS, Break, ChainChecker, ChainHead, ChainReport
from api.sql import q

__all__ = [
    "EXPORT_FORMAT",
    "ChainResult",
    "ExportEvent",
    "ExportHeader",
    "check_chain",
    "export_chain",
    "hash_at",
    "verify_database",
    "verify_file",
]

EXPORT_FORMAT = "propcheck-audit-export"
_VERSION = 1
_BATCH = 20_000
_HASHING = (
    "hash = sha256_hex(utf8(prev_hash \\n seq \\n chain_id \\n kind \\n actor \\n "
    "subject_id-or-empty \\n at \\n body)); first prev_hash = 64 zeros; seq from 1"
)


class ChainResult(msgspec.Struct, frozen=True, kw_only=True):
    """One chain's check, with what the chain belongs to."""

    chain_id: str
    owner: str | None  # 'production', 'studio', or None for an orphan chain
    name: str | None
    report: ChainReport


class ExportHeader(msgspec.Struct, frozen=True, kw_only=True):
    """The first line of an export."""

    format: str
    version: int
    chain_id: str
    owner: str | None
    name: str | None
    exported_at: datetime
    head: ChainHead | None
    events: int
    hashing: str = _HASHING


class ExportEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One exported event: every hashed field, as hashed, and the stored hashes."""

    chain_id: str
    seq: int
    kind: str
    actor: str
    subject_id: str | None
    at: str
    body: str
    prev_hash: str
    hash: str


#: The head of a chain with no events. No recorded head says just that: events without
#: one are a chain whose end nothing vouches for, and fail the check (head_mismatch).
_EMPTY_HEAD = ChainHead(seq=0, hash=GENESIS)


def _head(row: asyncpg.Record) -> ChainHead:
    if row["head_seq"] is None:
        return _EMPTY_HEAD
    return ChainHead(seq=row["head_seq"], hash=row["head_hash"])


async def check_chain(
    conn: asyncpg.Connection,
    chain_id: UUID,
    head: ChainHead | None,
    *,
    out: IO[bytes] | None = None,
) -> ChainReport:
    """Check one chain from the database (inside the caller's transaction).

    With ``out``, every event is also written there as an export line, as stored.
    """
    checker = ChainChecker(chain_id)
    cursor = await conn.cursor(q("audit_events"), chain_id)
    encode = msgspec.json.Encoder().encode
    # While one batch is hashed (in a thread), the server already formats and sends
    # the next: the two costs overlap instead of adding up.
    pending = asyncio.ensure_future(cursor.fetch(_BATCH))
    try:
        while rows := await pending:
            pending = asyncio.ensure_future(cursor.fetch(_BATCH))
            if out is not None:
                for r in rows:
                    out.write(encode(_export_event(r)))
                    out.write(b"\n")
            await asyncio.to_thread(checker.feed, rows)
            if checker.problem is not None and out is None:
                break  # the first break is the answer; an export goes on to the end
    finally:
        if not pending.done():
            await pending  # a connection runs one command at a time: let it finish
    return checker.report(head)


def _export_event(r: Any) -> ExportEvent:
    return ExportEvent(
        chain_id=r[0],
        seq=r[1],
        kind=r[2],
        actor=r[3],
        subject_id=r[4] or None,
        at=r[5],
        body=r[6],
        prev_hash=r[7],
        hash=r[8],
    )


async def verify_database(
    conn: asyncpg.Connection, chain_id: UUID | None = None
) -> list[ChainResult]:
    """Check one chain, or every chain (productions and studios), against its head.

    Raises LookupError for a ``chain_id`` that has neither events nor an owner.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if chain_id is None:
            chains = await conn.fetch(q("audit_chains"))
        else:
            chains = await conn.fetch(q("audit_chain"), chain_id)
            if chains[0]["owner"] is None and chains[0]["head_seq"] is None:
                raise LookupError(f"no chain {chain_id}")
        results = []
        for c in chains:
            report = await check_chain(conn, c["chain_id"], _head(c))
            results.append(
                ChainResult(
                    chain_id=str(c["chain_id"]), owner=c["owner"], name=c["name"], report=report
                )
            )
    return results


async def export_chain(conn: asyncpg.Connection, chain_id: UUID, path: Path) -> ChainReport:
    """Write one chain as JSON lines to ``path``; returns the check of what was written.

    The file is written beside ``path`` and renamed into place when complete, so a
    failed export never leaves a truncated file under the final name.
    """
    tmp = path.with_name(path.name + ".part")
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        c = await conn.fetchrow(q("audit_chain"), chain_id)
        if c["owner"] is None and c["head_seq"] is None:
            raise LookupError(f"no chain {chain_id}")
        head = _head(c)
        header = ExportHeader(
            format=EXPORT_FORMAT,
            version=_VERSION,
            chain_id=str(chain_id),
            owner=c["owner"],
            name=c["name"],
            exported_at=datetime.now(UTC),
            head=head,
            events=head.seq if head else 0,
        )
        with tmp.open("wb") as out:
            out.write(msgspec.json.encode(header) + b"\n")
            report = await check_chain(conn, chain_id, head, out=out)
    tmp.replace(path)
    return report


def _lines(f: IO[bytes]) -> Iterator[bytes]:
    for line in f:
        if line.strip():
            yield line


def verify_file(path: Path) -> tuple[ExportHeader | None, ChainReport]:
    """Check an export with no database: the chain, and the header's head if present.

    The header is the export's own statement of where the chain ended: a head of null
    says it had no events, and its event count must be the file's. Without a header
    (a bare list of events) a cut tail cannot be seen: the caller says so and fails.
    Raises ValueError when the file is not an export (bad JSON, missing fields, or
    nothing at all).
    """
    decode_event = msgspec.json.Decoder(ExportEvent).decode
    with path.open("rb") as f:
        lines = _lines(f)
        first = next(lines, None)
        header: ExportHeader | None = None
        pending: list[bytes] = []
        if first is not None:
            try:
                header = msgspec.json.decode(first, type=ExportHeader)
            except msgspec.ValidationError:
                pending.append(first)  # no header: a bare list of events is fine too
            except msgspec.DecodeError as exc:
                raise ValueError(f"line 1 is not JSON: {exc}") from exc
            if header is not None and header.format != EXPORT_FORMAT:
                raise ValueError(f"not a propcheck export (format {header.format!r})")
        checker = ChainChecker(header.chain_id if header else None)
        lineno = 1 if header else 0
        batch: list[tuple[Any, ...]] = []
        for raw in _chain(pending, lines):
            lineno += 1
            try:
                e = decode_event(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ValueError(f"line {lineno}: {exc}") from exc
            batch.append(
                (
                    e.chain_id,
                    e.seq,
                    e.kind,
                    e.actor,
                    e.subject_id,
                    e.at,
                    e.body,
                    e.prev_hash,
                    e.hash,
                )
            )
            if len(batch) >= _BATCH:
                if not checker.feed(batch):
                    break
                batch = []
        checker.feed(batch)
    if header is None:
        if checker.events == 0 and checker.problem is None:
            raise ValueError("no header and no events: not a propcheck export")
        return None, checker.report(None)
    report = checker.report(header.head or _EMPTY_HEAD)
    if report.ok and header.events != report.last_seq:
        report = msgspec.structs.replace(
            report,
            ok=False,
            problem=Break(
                seq=min(header.events, report.last_seq) + 1,
                kind="head_mismatch",
                detail=f"the header says {header.events} events, the file has {report.last_seq}",
            ),
        )
    return header, report


def hash_at(path: Path, seq: int) -> str | None:
    """The stored hash of event ``seq`` in an export (None when the export has none).

    With an attestation's chain head, this shows whether a later export still passes
    through the attested event: a chain rewritten since, however consistently, does not.
    """
    decode_event = msgspec.json.Decoder(ExportEvent).decode
    with path.open("rb") as f:
        for n, raw in enumerate(_lines(f)):
            if n == 0 and raw.lstrip().startswith(b'{"format"'):
                continue
            e = decode_event(raw)
            if e.seq == seq:
                return e.hash
    return None


def _chain(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest
