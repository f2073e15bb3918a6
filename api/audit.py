"""Checking the hash chain of the event log: a pure function anyone can re-implement.

Each event's hash is the lower-case hex SHA-256 of the UTF-8 bytes of

    prev_hash \\n seq \\n chain_id \\n kind \\n actor \\n subject_id-or-empty \\n at \\n body

where ``at`` is UTC written ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` and ``body`` is the stored
canonical JSON text (exactly as stored, never re-encoded). The first event of a chain
has seq 1 and prev_hash 64 zeros; every later one has seq = previous + 1 and prev_hash =
the previous event's hash. This is the same text as propcheck_event_text() in
migrations/0001_schema.sql; docs/RECORD.md explains it for people re-implementing it.

The checker walks events in seq order, keeps only the previous hash, and stops at the
first break, so a chain of any length is checked in constant memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = [
    "GENESIS",
    "Break",
    "ChainChecker",
    "ChainHead",
    "ChainReport",
    "event_hash",
    "event_text",
    "format_at",
    "verify_chain",
]

#: prev_hash of the first event of every chain.
GENESIS = "0" * 64

BreakKind = Literal["gap", "link_broken", "content_changed", "foreign_event", "head_mismatch"]

_EXPLAIN: dict[str, str] = {
    "gap": "the sequence skips or repeats: events are missing or out of order",
    "link_broken": "prev_hash is not the hash of the event before: an event was removed, "
    "inserted or rewritten before this one",
    "content_changed": "the stored hash does not match the event's content: the event was edited",
    "foreign_event": "the event belongs to another chain",
    "head_mismatch": "the recorded chain head does not match the last event: the end of the "
    "chain was removed or rewritten",
}


class ChainHead(msgspec.Struct, frozen=True, kw_only=True):
    """The last event of a chain as recorded separately (chain_heads, export header)."""

    seq: int
    hash: str


class Break(msgspec.Struct, frozen=True, kw_only=True):
    """Where and how a chain breaks: the first event that does not check out."""

    seq: int
    kind: BreakKind
    detail: str

    @property
    def explanation(self) -> str:
        """What this kind of break means, for a person."""
        return _EXPLAIN[self.kind]


class ChainReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of checking one chain."""

    chain_id: str
    ok: bool
    #: Events that checked out (all of them when ok).
    events: int
    #: The last event that checked out (seq 0 and GENESIS for none).
    last_seq: int
    last_hash: str
    head: ChainHead | None = None
    problem: Break | None = None


def format_at(at: datetime) -> str:
    """An event time as hashed: UTC, microseconds, 'Z'."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_text(
    prev_hash: str,
    seq: int,
    chain_id: Any,
    kind: str,
    actor: str,
    subject_id: Any,
    at: str | datetime,
    body: str,
) -> str:
    """The canonical text of one event (what its hash is computed over)."""
    subject = "" if subject_id is None else str(subject_id)
    when = at if isinstance(at, str) else format_at(at)
    return f"{prev_hash}\n{seq}\n{chain_id}\n{kind}\n{actor}\n{subject}\n{when}\n{body}"


def event_hash(text: str) -> str:
    """Lower-case hex SHA-256 of an event text's UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


class ChainChecker:
    """Checks one chain fed in seq-ordered batches; stops at the first break.

    Rows are sequences ``(chain_id, seq, kind, actor, subject_id, at, body, prev_hash,
    hash)``; ``at`` may be the canonical text (fast: no date formatting per row) or a
    datetime, ``subject_id`` None or text, ids text or UUID.
    """

    def __init__(self, chain_id: Any = None) -> None:
        self.chain_id: str | None = None if chain_id is None else str(chain_id)
        self.events = 0
        self.last_seq = 0
        self.last_hash = GENESIS
        self.problem: Break | None = None

    def feed(self, rows: Iterable[Any]) -> bool:
        """Check more events; False once the chain is broken (later rows are ignored)."""
        if self.problem is not None:
            return False
        # Hot loop: a million events must check in seconds, so locals and no calls.
        expected_seq = self.last_seq + 1
        prev = self.last_hash
        chain = self.chain_id
        sha256 = hashlib.sha256
        n = 0
        for chain_id, seq, kind, actor, subject, at, body, prev_hash, stored in rows:
            if chain_id.__class__ is not str:
                chain_id = str(chain_id)
            if chain is None:
                chain = self.chain_id = chain_id
            if seq != expected_seq:
                what = "missing" if seq > expected_seq else "out of order or repeated"
                detail = f"expected seq {expected_seq}, found {seq} ({what})"
                return self._broken(n, prev, seq, "gap", detail)
            if chain_id != chain:
                return self._broken(n, prev, seq, "foreign_event", f"chain {chain_id}, not {chain}")
            if prev_hash != prev:
                return self._broken(
                    n, prev, seq, "link_broken", f"prev_hash {prev_hash}, previous hash {prev}"
                )
            if "\n" in kind or "\n" in actor:
                # The hashed text has one field per line: a line break in either would
                # let two different events share one text (and so one hash).
                detail = "kind or actor holds a line break: its hashed text is ambiguous"
                return self._broken(n, prev, seq, "content_changed", detail)
            if subject is None:
                subject = ""
            if at.__class__ is not str:
                at = format_at(at)
            text = f"{prev}\n{seq}\n{chain_id}\n{kind}\n{actor}\n{subject}\n{at}\n{body}"
            computed = sha256(text.encode()).hexdigest()
            if computed != stored:
                return self._broken(
                    n, prev, seq, "content_changed", f"stored hash {stored}, computed {computed}"
                )
            prev = stored
            expected_seq += 1
            n += 1
        self.events += n
        self.last_seq = expected_seq - 1
        self.last_hash = prev
        return True

    def _broken(self, n: int, prev: str, seq: int, kind: BreakKind, detail: str) -> bool:
        # Keep the last event that did check out, for the report.
        self.events += n
        self.last_seq += n
        self.last_hash = prev
        self.problem = Break(seq=seq, kind=kind, detail=detail)
        return False

    def report(self, head: ChainHead | None = None) -> ChainReport:
        """The outcome; ``head`` (the separately recorded chain head) catches a cut tail."""
        problem = self.problem
        if problem is None and head is not None:
            if head.seq != self.last_seq:
                problem = Break(
                    # A cut tail: the first missing event; a head behind the events:
                    # the first event it does not cover.
                    seq=self.last_seq + 1 if head.seq > self.last_seq else head.seq + 1,
                    kind="head_mismatch",
                    detail=f"chain head says seq {head.seq}, the last event is seq {self.last_seq}",
                )
            elif head.hash != self.last_hash:
                problem = Break(
                    seq=head.seq,
                    kind="head_mismatch",
                    detail=f"chain head hash {head.hash}, last event hash {self.last_hash}",
                )
        return ChainReport(
            chain_id=self.chain_id or "",
            ok=problem is None,
            events=self.events,
            last_seq=self.last_seq,
            last_hash=self.last_hash,
            head=head,
            problem=problem,
        )


def verify_chain(
    rows: Iterable[Any], head: ChainHead | None = None, *, chain_id: Any = None
) -> ChainReport:
    """Check one chain's events (in seq order) and, when given, its recorded head.

    Returns OK, or the first event that breaks the chain and how: ``gap`` (seq is not
    the previous + 1), ``link_broken`` (prev_hash is not the previous hash),
    ``content_changed`` (the hash does not match the content), ``foreign_event``, or
    ``head_mismatch`` (the recorded head is not the last event: a cut or rewritten tail).
    """
    checker = ChainChecker(chain_id)
    checker.feed(rows)
    return checker.report(head)
