"""What the record's commands print: ``audit verify/export/check-attestation``,
``backup``, ``restore`` and ``bench audit`` (wired into api/cli.py).

Each returns the process exit code: 0 when everything checked out, 1 when a chain or an
attestation is broken, or an export's end cannot be checked (so cron jobs and scripts can
alert on it), 2 for usage errors, 3 for an attestation checked only against the key it
carries (UNTRUSTED).
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.audit import ChainReport

__all__ = [
    "backup_command",
    "bench_command",
    "check_attestation_command",
    "export_command",
    "restore_command",
    "verify_command",
]


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _with_connection(dsn: Any, fn: Any, *args: Any) -> Any:
    """Run ``await fn(conn, *args)`` on a fresh connection, closed afterwards."""

    async def run() -> Any:
        import asyncpg

        conn = await asyncpg.connect(dsn())
        try:
            return await fn(conn, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def _describe(report: ChainReport) -> str:
    if report.ok:
        return f"OK      {report.events} events, head seq {report.last_seq} {report.last_hash}"
    p = report.problem
    assert p is not None
    return (
        f"BROKEN  at seq {p.seq}: {p.kind.replace('_', ' ')} — {p.explanation}\n"
        f"        {p.detail}\n"
        f"        {report.events} events before it check out (last good seq {report.last_seq})"
    )


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        _err(f"not an id: {text!r}")
        return None


def verify_command(dsn: Any, production: str | None, file: str | None, as_json: bool) -> int:
    """``audit verify``: one chain, every chain, or an export file (no database)."""
    if file is not None:
        from api.audit_io import verify_file

        try:
            header, report = verify_file(Path(file))
        except (OSError, ValueError) as exc:
            _err(str(exc))
            return 2
        passed = report.ok and header is not None  # without a header a cut tail passes
        if as_json:
            print(
                json.dumps(
                    msgspec.to_builtins({"header": header, "report": report, "passed": passed})
                )
            )
        else:
            name = f"{header.owner} {header.name!r} " if header and header.name else ""
            print(f"{file}: chain {name}{report.chain_id}")
            print(_describe(report))
            if header is None:
                print("        (no header: the end of the chain cannot be checked)")
        return 0 if passed else 1

    chain = None
    if production is not None:
        chain = _uuid(production)
        if chain is None:
            return 2

    from api.audit_io import verify_database

    try:
        results = _with_connection(dsn, verify_database, chain)
    except LookupError as exc:
        _err(str(exc))
        return 2
    if as_json:
        print(json.dumps(msgspec.to_builtins(results)))
    else:
        for r in results:
            owner = f"{r.owner} {r.name!r}" if r.owner else "orphan chain"
            print(f"{r.chain_id} ({owner})")
            print(_describe(r.report))
        broken = sum(not r.report.ok for r in results)
        print(f"{len(results)} chains, {broken} broken")
    return 0 if all(r.report.ok for r in results) else 1


def export_command(dsn: Any, production: str, out: str) -> int:
    """``audit export``: one chain as JSON lines."""
    chain = _uuid(production)
    if chain is None:
        return 2

    from api.audit_io import export_chain

    try:
        report: ChainReport = _with_connection(dsn, export_chain, chain, Path(out))
    except LookupError as exc:
        _err(str(exc))
        return 2
    print(f"exported {report.events if report.ok else 'all'} events of {chain} to {out}")
    print(_describe(report))
    # The export is written either way (it is the evidence), but a broken chain fails.
    return 0 if report.ok else 1


def _key_bytes(source: str) -> bytes:
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            data: bytes = response.read(65536)
            return data
    return Path(source).read_bytes()


def _against_export(body: dict[str, Any], export: str) -> str | None:
    """Why the export does not contain the attested chain head (None: it does)."""
    from api.audit_io import hash_at, verify_file

    head = body.get("chain_head")
    if not head:
        return "the attestation names no chain head"
    _, report = verify_file(Path(export))
    if report.chain_id != body["production"]["id"]:
        return f"the export is chain {report.chain_id}, not this production"
    if not report.ok:
        return (
            f"the export's chain is broken at seq {report.problem.seq if report.problem else '?'}"
        )
    if report.last_seq < head["seq"]:
        return f"the export ends at seq {report.last_seq}, before the attested seq {head['seq']}"
    found = hash_at(Path(export), head["seq"])
    if found != head["hash"]:
        return f"event {head['seq']} in the export has hash {found}, the attestation {head['hash']}"
    return None


def check_attestation_command(file: str, key: str | None, export: str | None = None) -> int:
    """``audit check-attestation``: the signature, offline, with a trusted key if given;
    with ``export``, also that the exported chain passes through the attested head."""
    from api.attest import check_attestation, load_public_key

    try:
        data = Path(file).read_bytes()
        public = load_public_key(_key_bytes(key)) if key else None
    except (OSError, ValueError) as exc:
        _err(str(exc))
        return 2
    check = check_attestation(data, public)
    if not check.ok:
        print(f"INVALID  {check.problem}")
        return 1
    body = check.attestation or {}
    head = body.get("chain_head") or {}
    # Signed by the key the file itself carries proves nothing about who signed it:
    # anyone can make a key. Only a key the checker trusts makes it VALID.
    print(f"{'VALID    ' if check.trusted_key else 'UNTRUSTED'} signed by {check.key_id}")
    print(f"         production {body['production']['name']!r} ({body['production']['id']})")
    print(f"         status {body['status']} at {body['at']}")
    print(f"         chain head seq {head.get('seq')} {head.get('hash')}")
    for r in body.get("reasons", []):
        print(f"         - {r['code']} ({r['count']}): {r['message']}")
    if export is not None:
        try:
            problem = _against_export(body, export)
        except (OSError, ValueError) as exc:
            problem = str(exc)
        if problem is not None:
            print(f"MISMATCH {problem}")
            return 1
        print(f"MATCH    {export} passes through the attested chain head")
    if not check.trusted_key:
        print(
            "NOTE     consistent with the key embedded in the file only: pass --key with the "
            "one at /.well-known/propcheck-attestation-key to check who signed it"
        )
        return 3
    return 0


def backup_command(dsn: Any, out: str) -> int:
    """``backup``: pg_dump in custom format."""
    from api.backup import BackupError, backup

    try:
        size = backup(dsn(), Path(out))
    except BackupError as exc:
        _err(str(exc))
        return 1
    print(f"backup written: {out} ({size:,} bytes)")
    return 0


def restore_command(dsn: Any, file: str, force: bool, keep_dir: str | None = None) -> int:
    """``restore``: pg_restore into an empty database, then check every chain.

    With ``force`` over a database that has a record, every chain is exported first
    (into ``keep_dir``, by default beside the dump), and the restore fails (exit 1) when
    any chain's old head is not in the restored record: the events after the dump were
    removed, and are kept only in those exports. The record's rule (nothing is ever
    deleted) must not end with a restore that reports OK. A forced restore is refused
    while other sessions are connected to the database, or when the record changes
    during the export.
    """
    from datetime import UTC, datetime

    from api.backup import (
        BackupError,
        advance_facts_versions,
        chain_heads,
        hold_writes,
        keep_chains,
        lost_heads,
        prepare_target,
        restore,
    )

    target = dsn()
    kept = None
    held = False
    failed: str | None = None
    try:
        asyncio.run(prepare_target(target, force=force))
        heads = asyncio.run(chain_heads(target)) if force else {}
        if heads:
            # From here until the restore replaces it, nothing can append to the record
            # (an idle API process has no session to be seen): what is exported is all.
            # Held before the call: its REVOKE commits before it waits for the writers.
            held = True
            asyncio.run(hold_writes(target))
            heads = asyncio.run(chain_heads(target))
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            name = f"{Path(file).name}.replaced-{stamp}"
            where = Path(keep_dir) if keep_dir else Path(file).resolve().parent
            kept = where.resolve() / name
            asyncio.run(keep_chains(target, heads, kept))
            print(f"the record being replaced is exported to {kept}")
        restore(Path(file), target, force=force)
    except (BackupError, OSError, LookupError) as exc:
        failed = str(exc)
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        failed = f"the database refused ({type(exc).__name__}: {exc}); nothing was restored"
    finally:
        # After a failure (an interrupt included) the old record is back in service;
        # after a restore the dump's grants are (one made while writes were held lacks
        # them).
        released = _release_writes(target) if held else True
    if failed is not None:
        _err(failed)
    if failed is not None or not released:
        return 1
    # API processes still running keep facts by version: past every old version, a
    # kept row can only be stale, never taken for the restored facts.
    try:
        asyncio.run(advance_facts_versions(target))
    except (OSError, asyncpg.PostgresError) as exc:
        _err(
            f"restored, but the facts versions were NOT advanced ({exc}): stop every API "
            "process on this database, then restore again with --force"
        )
        return 1
    print(f"restored {file}; checking the record:")
    checked = verify_command(lambda: target, None, None, False)
    lost = asyncio.run(lost_heads(target, heads)) if heads else []
    if lost:
        _err(
            f"RECORD REMOVED: {len(lost)} chain(s) had events after this dump, which the "
            f"restore took out of the database; they are kept in {kept}: "
            + ", ".join(str(c) for c in lost)
        )
        return 1
    return checked


def _release_writes(target: str) -> bool:
    from api.backup import release_writes

    try:
        asyncio.run(release_writes(target))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        _err(
            f"the app role could NOT be given its append rights back ({exc}): every write "
            "of the API fails until they are (api/queries/backup.sql, "
            "backup_release_writes, as the database owner)"
        )
        return False
    return True


def bench_command(dsn: Any, events: int, items: int, keep: bool) -> int:
    """``bench audit``: build, verify, status; prints the figures and a JSON line."""
    from api.bench_audit import run

    figures = asyncio.run(run(dsn(), events, items, keep=keep, say=lambda s: print(s, flush=True)))
    print(json.dumps(figures))
    return 0 if figures["verify_ok"] else 1
