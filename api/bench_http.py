"""A small HTTP/1.1 load generator for the benchmarks and the reliability tests.

Keep-alive connections on asyncio streams, one request in flight per client: far less
CPU per request than a general client, which matters on a two-core machine where the
generator competes with the server it measures. Only what propcheck's servers send is
understood (Content-Length or chunked bodies).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

__all__ = [
    "LoadResult",
    "drive",
    "fetch",
    "json_request",
    "multipart_request",
    "percentile",
    "wait_healthy",
]


class LoadResult(msgspec.Struct, kw_only=True):
    """What a load run saw: one latency per answered request, and its status."""

    duration_s: float
    latencies_s: list[float] = []
    statuses: dict[int, int] = {}
    errors: int = 0
    #: Bodies of 2xx answers, when asked for (to check each against the database).
    bodies: list[bytes] = []
    #: (start offset, status or -1 for a connection error, latency, body) of every
    #: request, when asked for (fault tests).
    timeline: list[tuple[float, int, float, bytes]] = []

    @property
    def answered(self) -> int:
        """Requests that got an HTTP answer."""
        return len(self.latencies_s)

    @property
    def ok(self) -> int:
        """Requests answered 2xx."""
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return self.answered / self.duration_s if self.duration_s else 0.0

    def p(self, q: float) -> float:
        """Latency percentile ``q`` (0..100), seconds."""
        return percentile(self.latencies_s, q)

    def line(self, name: str) -> str:
        """One printable summary line."""
        bad = {s: n for s, n in sorted(self.statuses.items()) if not 200 <= s < 300}
        extra = f", non-2xx {bad}" if bad else ""
        extra += f", errors {self.errors}" if self.errors else ""
        return (
            f"{name}: {self.answered} requests in {self.duration_s:.1f} s, "
            f"{self.rate:,.0f} req/s, p50 {self.p(50) * 1000:.1f} ms, "
            f"p99 {self.p(99) * 1000:.1f} ms{extra}"
        )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def json_request(
    path: str, body: Any, *, host: str, token: str | None = None, method: str = "POST"
) -> bytes:
    """A complete HTTP/1.1 request with a JSON body."""
    data = msgspec.json.encode(body)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def multipart_request(
    path: str,
    files: dict[str, tuple[str, bytes, str]],
    fields: dict[str, str] | None = None,
    *,
    host: str,
    token: str | None = None,
) -> bytes:
    """A complete HTTP/1.1 multipart/form-data POST."""
    boundary = f"propcheck-bench-{random.getrandbits(64):016x}"
    parts: list[bytes] = []
    for name, value in (fields or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, (filename, data, ctype) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    body = b"".join(parts)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        out = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, bytes(out)
            out += await reader.readexactly(size + 2)
            del out[-2:]
    return status, await reader.readexactly(length) if length > 0 else b""


async def fetch(host: str, port: int, raw: bytes, *, wait_s: float = 30.0) -> tuple[int, bytes]:
    """Send one request on a new connection; (status, body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    try:
        writer.write(raw)
        return await asyncio.wait_for(_read_response(reader), wait_s)
    finally:
        writer.close()


async def wait_healthy(
    host: str, port: int, *, path: str = "/health", within_s: float = 60.0, alive: Any = None
) -> None:
    """Poll ``path`` until it answers 200; ``alive()`` False (a dead process) stops early."""
    raw = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    deadline = time.monotonic() + within_s
    while True:
        if alive is not None and not alive():
            raise RuntimeError("the server process exited")
        try:
            status, _ = await fetch(host, port, raw, wait_s=2.0)
            if status == 200:
                return
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"http://{host}:{port}{path} not healthy after {within_s} s")
        await asyncio.sleep(0.2)


async def drive(
    host: str,
    port: int,
    make_request: Callable[[], bytes],
    *,
    clients: int,
    duration: float,
    request_timeout_s: float | None = None,
    keep_bodies: bool = False,
    keep_timeline: bool = False,
    pace_s: float = 0.0,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """``clients`` keep-alive connections, each sending requests back to back.

    A request that fails at the connection level (refused, reset, timed out) counts
    as an error, and its client reconnects after a short pause. ``pace_s`` is a pause
    after each answer (a gentler load for the reliability tests); ``stop`` ends the run
    before ``duration`` when set.
    """
    result = LoadResult(duration_s=duration)
    start = time.perf_counter()
    deadline = start + duration
    latencies = result.latencies_s
    statuses = result.statuses

    async def client() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.perf_counter() < deadline and not (stop is not None and stop.is_set()):
            raw = make_request()
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(host, port), 5.0)
                reader, writer = conn
                writer.write(raw)
                if request_timeout_s is None:
                    status, body = await _read_response(reader)
                else:
                    status, body = await asyncio.wait_for(_read_response(reader), request_timeout_s)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                result.errors += 1
                if keep_timeline:
                    result.timeline.append((t0 - start, -1, time.perf_counter() - t0, b""))
                if conn is not None:
                    conn[1].close()
                conn = None
                await asyncio.sleep(0.05)
                continue
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            statuses[status] = statuses.get(status, 0) + 1
            if keep_bodies and 200 <= status < 300:
                result.bodies.append(body)
            if keep_timeline:
                result.timeline.append((t0 - start, status, t1 - t0, body))
            if pace_s:
                await asyncio.sleep(pace_s)
        if conn is not None:
            conn[1].close()

    await asyncio.gather(*(client() for _ in range(clients)))
    # Requests in flight at the deadline still finished: count the time they took.
    result.duration_s = time.perf_counter() - start
    return result
