"""The record's commands: audit verify/export/check-attestation, backup/restore, bench."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from api import cli
from api.audit_io import verify_database
from tests.conftest import World

COMMANDS = [
    ["audit", "verify"],
    ["audit", "export"],
    ["audit", "check-attestation"],
    ["backup"],
    ["restore"],
    ["bench", "audit"],
]


@pytest.fixture
def on_test_db(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the commands at the test database."""
    monkeypatch.setattr(cli, "_dsn", lambda: database)
    return database


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_record_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: propcheck" in capsys.readouterr().out


def test_verify_export_and_file_check(
    on_test_db: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "verify", "--production", world.production_id]) == 0
    assert "OK" in capsys.readouterr().out
    out = tmp_path / "p.jsonl"
    assert (
        cli.main(["audit", "export", "--production", world.production_id, "--out", str(out)]) == 0
    )
    capsys.readouterr()
    assert cli.main(["audit", "verify", "--file", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
    lines = out.read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[2])
    event["kind"] = "something.else"
    lines[2] = json.dumps(event)
    out.write_text("\n".join(lines), encoding="utf-8")
    assert cli.main(["audit", "verify", "--file", str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)["report"]
    assert report["problem"]["seq"] == 2 and report["problem"]["kind"] == "content_changed"


def test_a_cut_or_empty_export_does_not_pass(
    on_test_db: str, world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Found by review: each of these printed OK and exited 0.
    out = tmp_path / "p.jsonl"
    argv = ["audit", "export", "--production", world.production_id, "--out", str(out)]
    assert cli.main(argv) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert len(lines) > 3

    def check(*rows: str) -> int:
        path = tmp_path / "edited.jsonl"
        path.write_text("\n".join(rows), encoding="utf-8")
        capsys.readouterr()
        return cli.main(["audit", "verify", "--file", str(path)])

    assert check(*lines) == 0
    # The tail cut, and the header's head taken away with it.
    assert check(json.dumps({**header, "head": None}), *lines[1:-1]) == 1
    assert "head mismatch" in capsys.readouterr().out
    # The tail cut, and the head moved back to the new last event: the count says so.
    last = json.loads(lines[-2])
    moved = {**header, "head": {"seq": last["seq"], "hash": last["hash"]}}
    assert check(json.dumps(moved), *lines[1:-1]) == 1
    # No header at all: nothing vouches for the end.
    assert check(*lines[1:-1]) == 1
    assert "no header" in capsys.readouterr().out
    # Nothing at all is not an export.
    assert check("") == 2


def test_unknown_production_is_a_usage_error(
    on_test_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "verify", "--production", "not-an-id"]) == 2
    assert (
        cli.main(["audit", "verify", "--production", "00000000-0000-0000-0000-000000000000"]) == 2
    )


async def test_check_attestation_command(
    client: AsyncTestClient[Any], world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = await client.post(
        f"/api/v1/productions/{world.production_id}/attestations", headers=world.h("auditor")
    )
    doc = tmp_path / "attestation.json"
    doc.write_bytes(r.content)
    key = tmp_path / "key.json"
    key.write_bytes((await client.get("/.well-known/propcheck-attestation-key")).content)
    assert cli.main(["audit", "check-attestation", str(doc), "--key", str(key)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID") and "NOTE" not in out
    # The embedded key only: anyone can make a key, so not VALID and not exit 0 (it was
    # both; found by review: a forged attestation passed any script reading the code).
    assert cli.main(["audit", "check-attestation", str(doc)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("UNTRUSTED") and "NOTE" in out
    envelope = r.json()
    envelope["attestation"]["production"]["name"] = "Another production"
    doc.write_text(json.dumps(envelope))
    assert cli.main(["audit", "check-attestation", str(doc), "--key", str(key)]) == 1
    assert capsys.readouterr().out.startswith("INVALID")


async def test_backup_restores_into_a_new_database_that_verifies(
    on_test_db: str,
    world: World,
    server_dsn: str,
    db: asyncpg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from tests.conftest import _with_database

    # Other tests leave deliberately broken chains behind: the restored record must
    # verify exactly as the original does.
    before = {r.chain_id: r.report for r in await verify_database(db)}
    dump = tmp_path / "propcheck.dump"
    assert await asyncio.to_thread(cli.main, ["backup", "--out", str(dump)]) == 0
    assert dump.stat().st_size > 0
    name = f"propcheck_restore_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    target = _with_database(server_dsn, name)
    try:
        monkeypatch.setattr(cli, "_dsn", lambda: target)
        all_ok = all(r.ok for r in before.values())
        code = await asyncio.to_thread(cli.main, ["restore", str(dump)])
        assert code == (0 if all_ok else 1)
        out = capsys.readouterr().out
        assert f"{len(before)} chains, {sum(not r.ok for r in before.values())} broken" in out
        restored = await asyncpg.connect(target)
        try:
            there = {r.chain_id: r.report for r in await verify_database(restored)}
        finally:
            await restored.close()
        assert there == before
        assert there[world.production_id].ok and there[world.production_id].events > 0
        # Every facts version is past any the original issued: an API process that
        # kept a tag's facts from before the restore can never take them as current.
        restored = await asyncpg.connect(target)
        try:
            for table in ("items", "productions"):
                old_max = await db.fetchval(f"SELECT max(facts_version) FROM {table}")
                new_min = await restored.fetchval(f"SELECT min(facts_version) FROM {table}")
                assert (old_max is None) == (new_min is None), table
                assert table == "items" or new_min is not None  # the world's production
                if new_min is not None:
                    assert new_min > old_max + 10**12, (table, old_max, new_min)
            # ... and the bump triggers, off for that one update, are on again.
            enabled = await restored.fetch(
                "SELECT tgname, tgenabled::text AS tgenabled FROM pg_trigger"
                " WHERE tgname IN ('items_facts_version', 'productions_facts_version')"
            )
            assert sorted((r["tgname"], r["tgenabled"]) for r in enabled) == [
                ("items_facts_version", "O"),
                ("productions_facts_version", "O"),
            ]
        finally:
            await restored.close()
        # A second restore into the now non-empty database is refused.
        assert await asyncio.to_thread(cli.main, ["restore", str(dump)]) == 1
        assert "not empty" in capsys.readouterr().err

        # The restored database records one more event; a forced restore of the older
        # dump over it takes that event out. It used to report OK (found by review):
        # now the replaced record is exported first, and the restore says what it lost.
        restored = await asyncpg.connect(target)
        try:
            await restored.execute(
                "SELECT propcheck_append_event($1::uuid, 'incident.reported', 'user:test',"
                ' NULL, \'{"note":"after the dump"}\')',
                uuid.UUID(world.production_id),
            )
        finally:
            await restored.close()
        newer = tmp_path / "newer.dump"
        assert await asyncio.to_thread(cli.main, ["backup", "--out", str(newer)]) == 0
        code = await asyncio.to_thread(cli.main, ["restore", str(dump), "--force"])
        assert code == 1
        err = capsys.readouterr().err
        assert "RECORD REMOVED: 1 chain(s)" in err and world.production_id in err

        def kept_export() -> tuple[Path, str]:
            (kept,) = tmp_path.glob("propcheck.dump.replaced-*")
            path = kept / f"{world.production_id}.jsonl"
            return path, path.read_text(encoding="utf-8")

        path, export = await asyncio.to_thread(kept_export)
        assert "after the dump" in export
        assert cli.main(["audit", "verify", "--file", str(path)]) == 0
        # The other way round, a newer dump over an older copy, removes nothing.
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, ["restore", str(newer), "--force"])
        assert code == (0 if all_ok else 1)
        assert "RECORD REMOVED" not in capsys.readouterr().err
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_forced_restore_refuses_what_would_lose_record_silently(
    on_test_db: str,
    world: World,
    server_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A forced restore is refused while another session is connected (an API process
    would go on writing after the export), and when the record changes during the
    export; a chain whose head row is gone is still exported, and its loss reported."""
    import asyncio

    import api.audit_io
    from tests.conftest import _with_database

    dump = tmp_path / "propcheck.dump"
    assert await asyncio.to_thread(cli.main, ["backup", "--out", str(dump)]) == 0
    name = f"propcheck_restore_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    target = _with_database(server_dsn, name)
    chain = uuid.UUID(world.production_id)

    async def events_in_target() -> int:
        conn = await asyncpg.connect(target)
        try:
            n: int = await conn.fetchval("SELECT count(*) FROM events WHERE chain_id = $1", chain)
            return n
        finally:
            await conn.close()

    async def append_to_target(note: str, *, as_app: bool = False) -> None:
        # as_app: as the API appends (its sessions take the app role), else as the owner.
        settings = {"role": "propcheck_app"} if as_app else {}
        conn = await asyncpg.connect(target, server_settings=settings)
        try:
            await conn.execute(
                "SELECT propcheck_append_event($1::uuid, 'incident.reported', 'user:test',"
                " NULL, $2)",
                chain,
                json.dumps({"note": note}),
            )
        finally:
            await conn.close()

    try:
        monkeypatch.setattr(cli, "_dsn", lambda: target)
        await asyncio.to_thread(cli.main, ["restore", str(dump)])
        await append_to_target("after the dump")
        capsys.readouterr()

        # 1. Another session on the database (named as the API names its sessions).
        api_session = await asyncpg.connect(
            target, server_settings={"application_name": "propcheck"}
        )
        try:
            code = await asyncio.to_thread(cli.main, ["restore", str(dump), "--force"])
        finally:
            await api_session.close()
        assert code == 1
        err = capsys.readouterr().err
        assert "1 other session(s)" in err and "propcheck from" in err
        # Nothing exported, nothing restored.
        assert not await asyncio.to_thread(lambda: list(tmp_path.glob("*.replaced-*")))
        had = await events_in_target()

        # 2. The record changes while it is exported (a writer the check did not see).
        real_export = api.audit_io.export_chain
        wrote = False

        async def export_then_write(conn: Any, chain_id: Any, path: Path) -> Any:
            nonlocal wrote
            report = await real_export(conn, chain_id, path)
            if not wrote:
                wrote = True
                # An API process (no session open when the restore began) cannot
                # append any more: every write it tries fails whole.
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await append_to_target("from the API during the export", as_app=True)
                # The owner still can (a writer the hold does not stop): the heads
                # checked after the export catch it.
                await append_to_target("during the export")
            return report

        monkeypatch.setattr(api.audit_io, "export_chain", export_then_write)
        code = await asyncio.to_thread(cli.main, ["restore", str(dump), "--force"])
        monkeypatch.setattr(api.audit_io, "export_chain", real_export)
        assert code == 1
        assert "the record changed during its export" in capsys.readouterr().err
        assert await events_in_target() == had + 1  # not restored: nothing was removed
        await append_to_target("the API writes again", as_app=True)  # its rights are back
        had += 1

        # 3. A chain with events but no head row is exported, to --keep-dir, and its
        # loss reported.
        conn = await asyncpg.connect(target)
        try:
            await conn.execute("DELETE FROM chain_heads WHERE chain_id = $1", chain)
        finally:
            await conn.close()
        keep = tmp_path / "kept-elsewhere"
        code = await asyncio.to_thread(
            cli.main, ["restore", str(dump), "--force", "--keep-dir", str(keep)]
        )
        assert code == 1
        err = capsys.readouterr().err
        assert "RECORD REMOVED" in err and world.production_id in err

        def kept_export() -> str:
            (kept,) = keep.glob("propcheck.dump.replaced-*")
            return (kept / f"{world.production_id}.jsonl").read_text(encoding="utf-8")

        export = await asyncio.to_thread(kept_export)
        assert "after the dump" in export and "during the export" in export
        assert "the API writes again" in export
        # The restored record takes appends from the API.
        before = await events_in_target()
        await append_to_target("after the restore", as_app=True)
        assert await events_in_target() == before + 1
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def test_bench_audit_prints_its_figures(
    on_test_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bench", "audit", "--events", "1500", "--items", "300"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["verify_ok"] is True and figures["events"] == 1500
    assert figures["status_ms"]["median"] > 0


async def test_attested_head_catches_a_consistently_rewritten_export(
    on_test_db: str,
    client: AsyncTestClient[Any],
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from api.audit import GENESIS, event_hash, event_text

    r = await client.post(
        f"/api/v1/productions/{world.production_id}/attestations", headers=world.h("auditor")
    )
    doc = tmp_path / "attestation.json"
    doc.write_bytes(r.content)
    head = r.json()["attestation"]["chain_head"]
    export = tmp_path / "p.jsonl"
    argv = ["audit", "export", "--production", world.production_id, "--out", str(export)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    key = tmp_path / "key.json"
    key.write_bytes((await client.get("/.well-known/propcheck-attestation-key")).content)
    check = ["audit", "check-attestation", str(doc), "--key", str(key), "--export", str(export)]
    assert cli.main(check) == 0
    assert "MATCH" in capsys.readouterr().out

    # Someone with full access rewrites event 1 and re-hashes everything after it, head
    # included: the chain checks out on its own, but no longer passes the attested head.
    lines = export.read_text(encoding="utf-8").splitlines()
    header, events = json.loads(lines[0]), [json.loads(x) for x in lines[1:]]
    events[0]["body"] = events[0]["body"].replace("Production P", "Production X")
    prev = GENESIS
    for e in events:
        e["prev_hash"] = prev
        fields = (e["seq"], e["chain_id"], e["kind"], e["actor"], e["subject_id"], e["at"])
        e["hash"] = prev = event_hash(event_text(prev, *fields, e["body"]))
    header["head"] = {"seq": events[-1]["seq"], "hash": prev}
    export.write_text("\n".join(json.dumps(x) for x in [header, *events]), encoding="utf-8")
    assert cli.main(["audit", "verify", "--file", str(export)]) == 0
    assert events[head["seq"] - 1]["hash"] != head["hash"]
    capsys.readouterr()
    assert cli.main(check) == 1
    assert "MISMATCH" in capsys.readouterr().out
