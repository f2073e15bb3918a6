"""create_app(): routes, the lifespan (pool, blob store, workers), error handlers."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import urllib.parse
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.static_files import create_static_files_router

from api.abuse import Limits
from api.accounts import AccountController, DeviceController, EnrollmentController
from api.attest import AttestationController, WellKnownController
from api.corrections import RecordController
from api.custody import CustodyController
from api.database import admin_dsn
from api.errors import exception_handlers
from api.facts_cache import FactsCache
from api.health import health
from api.incidents import IncidentController
from api.inspections import InspectionController, PolicyController
from api.invitations import AcceptInvitationController, InvitationController
from api.items import ItemController
from api.label_routes import LabelController
from api.media import MediaController, load_media_key
from api.migrate import apply_migrations
from api.openapi_doc import document_api
from api.productions import ProductionController, StudioController
from api.reports import ReportController
from api.security_headers import add_security_headers
from api.settings import Settings, get_settings
from api.snapshot import SnapshotController
from api.state import Services
from api.status import StatusController
from api.storage import check_store, store_from_settings
from api.tags import TagController
from api.verify import VerifyController

__all__ = ["create_app"]

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (one round trip saved per request).

    Safe because no request changes session state: the role is a start-up parameter,
    and nothing uses SET, LISTEN, cursors outside transactions or advisory locks. An
    open transaction is still rolled back by asyncpg before this runs.
    """


async def open_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """A pool whose sessions run as the restricted application role, logged in as
    settings.db_app_user (a member of that role only) unless that is empty."""
    login: dict[str, Any] = {}
    if settings.db_app_user:
        dsn, login = _app_login(dsn, settings.db_app_user, settings.db_app_password)
    try:
        pool = await asyncpg.create_pool(
            dsn,
            reset=_keep_session,
            min_size=min(2, settings.pool_size),
            max_size=settings.pool_size,
            command_timeout=settings.db_timeout_s,
            timeout=settings.db_timeout_s,
            server_settings={"role": "propcheck_app", "application_name": "propcheck"},
            **login,
        )
    except (
        asyncpg.InvalidAuthorizationSpecificationError,
        asyncpg.InvalidPasswordError,
        asyncpg.InsufficientPrivilegeError,
    ) as exc:
        raise RuntimeError(
            f"the API could not log in as {settings.db_app_user!r} ({exc}): give that role "
            "a password and set PROPCHECK_DB_APP_PASSWORD, or set PROPCHECK_DB_APP_USER "
            "to a login role that is a member of propcheck_app (empty: DATABASE_URL's "
            "user, with the role as a session setting, which SET ROLE NONE undoes)"
        ) from exc
    assert pool is not None
    return pool


def _app_login(dsn: str, user: str, password: str) -> tuple[str, dict[str, Any]]:
    """``dsn`` without the owner's password (asyncpg would offer it for ``user``), and
    the login arguments for ``user``; the database stays the one DATABASE_URL names (or
    would default to: PGDATABASE, else the owner's name)."""
    url = urllib.parse.urlsplit(dsn)
    owner = urllib.parse.unquote(url.username or "")
    host = url.netloc.rpartition("@")[2]
    query = "&".join(
        part
        for part in url.query.split("&")
        if part and part.partition("=")[0] not in ("password", "user")
    )
    bare = f"{url.scheme}://{host}{url.path}" + (f"?{query}" if query else "")
    login: dict[str, Any] = {"user": user, "password": password or None}
    if not url.path.strip("/"):
        login["database"] = os.environ.get("PGDATABASE") or owner or None
    return bare, login


def tune_gc() -> None:
    """Collect garbage less often than CPython's default, and never re-scan start-up.

    The default collects the youngest generation every 700 allocations, and a verify
    allocates a few hundred objects, so under load the collector ran about once per
    verify and regularly walked the older generations: the start-up objects and this
    process's kept facts (api/facts_cache.py). Freezing what start-up made and raising
    the first threshold cut about 7% of the event loop's time per verify (propcheck
    bench verify); the benchmark's floor app is tuned the same way. Memory is not at
    stake: what a request leaves behind is freed by reference counting, the collector
    only finds cycles.
    """
    gc.freeze()
    gc.set_threshold(_GC_THRESHOLD, 20, 20)


#: Allocations between collections of the youngest generation (CPython's default: 700).
_GC_THRESHOLD = int(os.environ.get("PROPCHECK_GC_THRESHOLD", "20000"))


def _lower_priority() -> None:
    """Photo work yields the CPU to code scans: the image threads run only on time no
    other thread wants (Linux schedules each thread on its own: SCHED_IDLE, and nice 10
    where that policy is refused).

    A 12 MP photo costs seconds of CPU; a code scan, a fraction of a millisecond, and
    the person scanning waits for it with the item in hand. At nice 10 alone, 32 clients
    scanning codes flat out beside 4 photo clients got 2,153 and 2,518 scans/s (p99 38.8
    and 28.8 ms); with SCHED_IDLE, 3,046 and 2,947 (p99 22.6 and 24.0 ms), while each
    photo took about a quarter longer (p50 1.64-1.70 s against 1.28-1.33 s). On an idle
    machine a photo is as fast as before: idle time is all theirs. Every image job runs
    here: item photos as well as verify photos.

    An image thread holding the GIL when it is preempted holds up the event loop, as it
    did at nice 10; the loop then sleeps, and the core it leaves idle is one such a
    thread may take. Not measured: several workers saturating every core.
    """
    with suppress(AttributeError, OSError):  # not Linux, or not allowed: as it is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    with suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Litestar:
    """Build the ASGI app. The database URL is resolved at start-up, not here."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        dsn = await asyncio.to_thread(admin_dsn, settings.database_url, settings.var_dir)
        if migrate:
            conn = await asyncpg.connect(dsn)
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
        store = store_from_settings(settings.blob_url, settings.blob_dir)
        await check_store(store)  # a misconfigured photo store stops the start here
        pool = await open_pool(settings, dsn)
        executor = ThreadPoolExecutor(
            max_workers=settings.decode_workers,
            thread_name_prefix="propcheck-image",
            initializer=_lower_priority,
        )
        app.state.services = Services(
            settings=settings,
            pool=pool,
            store=store,
            media_key=load_media_key(settings.key_dir),
            decode_slots=asyncio.Semaphore(settings.decode_workers),
            executor=executor,
            limits=Limits(settings),
            facts=FactsCache(settings.facts_cache_s),
        )
        tune_gc()
        try:
            yield
        finally:
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                pool.terminate()  # a stuck connection must not keep the process alive
            executor.shutdown(wait=False, cancel_futures=True)

    routes: list[object] = [
        health,
        AccountController,
        EnrollmentController,
        DeviceController,
        ProductionController,
        InvitationController,
        AcceptInvitationController,
        StudioController,
        ItemController,
        TagController,
        LabelController,
        VerifyController,
        InspectionController,
        PolicyController,
        IncidentController,
        CustodyController,
        SnapshotController,
        RecordController,
        StatusController,
        ReportController,
        AttestationController,
        WellKnownController,
        MediaController,
    ]
    if PWA_DIR.is_dir():
        routes.append(
            create_static_files_router(
                path="/", directories=[PWA_DIR], html_mode=True, include_in_schema=False
            )
        )
    app = Litestar(
        route_handlers=routes,  # type: ignore[arg-type]
        lifespan=[lifespan],
        exception_handlers=exception_handlers,
        before_send=[add_security_headers],
        request_max_body_size=settings.max_upload_bytes + 64 * 1024,
        # Redoc alone: it has the schema inline, so it still works sandboxed (the
        # viewers that fetch /schema/openapi.json cannot: api/security_headers.py).
        openapi_config=OpenAPIConfig(
            title="propcheck",
            version="1.0.0",
            path="/schema",
            use_handler_docstrings=True,
            render_plugins=[RedocRenderPlugin()],
        ),
        debug=False,
    )
    document_api(app)
    return app
