"""How propcheck is served: uvicorn with httptools on the asyncio loop, picked by measurement.

One place for the server and its settings, so that ``propcheck serve``, the benchmark
(product and floor alike) and the tests that run a real server all run the same thing.

Why uvicorn: ``propcheck bench verify --server uvicorn`` and ``--server granian``,
alternated on this 2-core machine (2026-11-26, night; README, Performance), gave the
floor 5,441-5,599 req/s with uvicorn against 4,918-5,304 with granian, and verify
3,166-3,396 against 2,700-2,838. uvicorn with httptools parses HTTP on the event loop's
own thread, where granian hands each request and each answer between its Rust threads
and the loop (a thread wake-up each way: ~14% of the server's samples under load). The
issue's first measurement (granian 4,100 against uvicorn 2,900) matches uvicorn on its
pure-Python h11 parser, its fallback without httptools: the floor 3,727 req/s against
5,860 with httptools in one run. uvloop gave the floor 6% more and verify 2% more (within the
noise), so the loop stays asyncio's own: one dependency fewer.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

__all__ = ["SERVERS", "Server", "command", "uvicorn_options"]

Server = Literal["uvicorn", "granian"]
SERVERS: tuple[Server, ...] = ("uvicorn", "granian")

#: Seconds a stopping server waits for requests in progress before it closes them.
_GRACEFUL_S = 10


def uvicorn_options(*, host: str, port: int, workers: int) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for serving the app factory."""
    from api.settings import get_settings

    return {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "loop": "asyncio",
        "http": "httptools",
        "ws": "none",
        "lifespan": "on",
        "access_log": False,
        # No "server: uvicorn" header: nothing to fingerprint.
        "server_header": False,
        # X-Forwarded-For is believed only from the addresses in FORWARDED_ALLOW_IPS
        # (uvicorn's default: 127.0.0.1 and ::1, a proxy on this host that appends the
        # client's address); set it to the load balancer's addresses for the per-address
        # sign-in limit, never "*" (uvicorn then takes the client's own first entry).
        "proxy_headers": True,
        "timeout_graceful_shutdown": _GRACEFUL_S,
        "timeout_keep_alive": max(1, round(get_settings().keep_alive_s)),
        # No cap on connections: under overload a request waits for a pooled connection
        # up to PROPCHECK_DB_TIMEOUT_S, then verify answers 503 with a STOP body.
    }


def command(
    target: str, *, host: str, port: int, workers: int, server: Server = "uvicorn"
) -> list[str]:
    """The command line serving ``target`` (a module:factory) as ``propcheck serve``
    does; ``server="granian"`` is the benchmark's comparison (one worker setting alike)."""
    if server == "granian":
        return [
            *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory", target),
            *("--host", host, "--port", str(port), "--workers", str(workers), "--no-ws"),
        ]
    o = uvicorn_options(host=host, port=port, workers=workers)
    return [
        *(sys.executable, "-m", "uvicorn", "--factory", target),
        *("--host", o["host"], "--port", str(o["port"]), "--workers", str(o["workers"])),
        *("--loop", o["loop"], "--http", o["http"], "--ws", o["ws"], "--lifespan", o["lifespan"]),
        "--no-access-log",
        "--no-server-header",
        "--proxy-headers",
        *("--timeout-graceful-shutdown", str(o["timeout_graceful_shutdown"])),
        *("--timeout-keep-alive", str(o["timeout_keep_alive"])),
    ]
