"""Appending to the chained event log, in the caller's transaction.

Every state change calls :func:`append` inside the same transaction as the change, so
there is no change without its event and no event without its change. The chaining
itself happens in PostgreSQL (propcheck_append_event in migrations/0001_schema.sql).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

__all__ = ["APPEND_SQL", "append", "canonical"]

APPEND_SQL = "SELECT propcheck_append_event($1, $2, $3, $4, $5)"

_encoder = msgspec.json.Encoder(order="sorted")


def canonical(payload: Any) -> str:
    """The canonical JSON of an event body: keys sorted, no white space, UTF-8."""
    return _encoder.encode(payload).decode()


async def append(
    conn: Any,
    chain_id: UUID,
    kind: str,
    actor: str,
    subject_id: UUID | None,
    payload: Any,
) -> int:
    """Append one event to ``chain_id``'s chain; return its sequence number."""
    seq: int = await conn.fetchval(
        APPEND_SQL, chain_id, kind, actor, subject_id, canonical(payload)
    )
    return seq
