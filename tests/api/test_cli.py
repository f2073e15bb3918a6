"""The command line: every command has --help; demo covers every class and status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api import cli
from api.seed import create_demo
from verifier.rules import CLASSES

COMMANDS = [
    ["serve"],
    ["migrate"],
    ["demo"],
    ["admin", "create"],
    ["decode"],
    ["bench", "decode"],
    ["db", "stop"],
    ["labels"],
    ["audit", "verify"],
    ["audit", "export"],
    ["audit", "check-attestation"],
    ["backup"],
    ["restore"],
    ["bench", "verify"],
    ["bench", "audit"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: propcheck" in capsys.readouterr().out


def test_decode_prints_one_json_line_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.verifier.tagimages import encode, place, qr_tag
    from verifier import codes

    code = codes.new_code()
    good = tmp_path / "tag.jpg"
    good.write_bytes(encode(place(qr_tag(codes.format_code(code))).image))
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    assert cli.main(["decode", str(good), str(bad)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    assert codes.parse(lines[0]["symbols"][0]["text"]) == code
    assert "error" in lines[1]


@pytest.mark.asyncio
async def test_demo_covers_every_class_and_status_and_runs_twice(
    client: AsyncTestClient[Any], database: str
) -> None:
    first = await create_demo(database, items=14)
    again = await create_demo(database, items=14)
    assert again["production_id"] == first["production_id"]
    assert [t["code"] for t in again["tags"]] == [t["code"] for t in first["tags"]]
    tags = first["tags"]
    assert len(tags) == 14
    assert {t["capability_class"] for t in tags} == set(CLASSES)
    assert {t["status"] for t in tags} == {"active", "quarantined", "missing", "retired"}
    assert set(first["tokens"]) == {"studio_admin", "prop_master", "scanner", "auditor"}
    scanner = {"Authorization": f"Bearer {again['tokens']['scanner']}"}
    verdicts = {}
    for t in tags:
        r = await client.post("/api/v1/verify", json={"code": t["code"]}, headers=scanner)
        verdicts[(t["capability_class"], t["status"])] = r.json()["verdict"]
    assert verdicts[("non_firing_replica", "active")] in ("CLEARED", "STOP")
    assert verdicts[("functional_firearm", "active")] == "STOP"
    assert verdicts[("non_firing_replica", "quarantined")] == "STOP"
    assert "CLEARED" in verdicts.values()
    board = (
        await client.get(f"/api/v1/productions/{first['production_id']}/custody", headers=scanner)
    ).json()
    assert len(board["checked_out"]) == 2
    assert board["overdue"] == 1


@pytest.mark.asyncio
async def test_admin_create_then_sign_in(
    client: AsyncTestClient[Any],
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from api.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database)
    get_settings.cache_clear()
    email = "first-admin@studio.test"
    argv = ["admin", "create", "--email", email, "--studio", "First Studio"]
    try:
        assert await asyncio.to_thread(cli.main, [*argv, "--password", "short"]) == 2
        assert await asyncio.to_thread(cli.main, [*argv, "--password", "a long enough secret"]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["email"] == email
        # A second run keeps the account and its password.
        assert await asyncio.to_thread(cli.main, [*argv, "--password", "another long one"]) == 0
    finally:
        get_settings.cache_clear()
    r = await client.post(
        "/api/v1/auth/sign-in", json={"email": email, "password": "a long enough secret"}
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert list(me.json()["studio_roles"].values()) == ["studio_admin"]
