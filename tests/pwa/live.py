"""A real propcheck server for browser tests, and a world seeded through its API.

The server runs in a subprocess (uvicorn, one worker, as ``propcheck serve``) against
the session's test database, so the browser talks to exactly what production runs: the
API and the PWA served at ``/``.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.serving import command

__all__ = ["LiveWorld", "jpeg_bytes", "run_server", "seed_world"]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def run_server(database_url: str, var_dir: Path) -> Iterator[str]:
    """Start the app as ``propcheck serve`` runs it (api/serving.py) on a free port;
    yield its base URL once /health is 200."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PROPCHECK_VAR_DIR": str(var_dir),
        "PROPCHECK_AUTH_CACHE_S": "0",
        "PROPCHECK_DECODE_WORKERS": "1",
        "PROPCHECK_POOL_SIZE": "5",
    }
    log = (var_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        command("api.app:create_app", host="127.0.0.1", port=port, workers=1),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {(var_dir / 'server.log').read_text(errors='replace')}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy in 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def jpeg_bytes(width: int = 900, height: int = 600, color: str = "olive") -> bytes:
    """A photo-like JPEG: a coloured frame with a darker block (a 'prop')."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(img).rectangle(
        (width // 5, height // 3, width * 4 // 5, height * 2 // 3), fill="black"
    )
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@dataclass
class LiveWorld:
    """A production with a prop master, a scanner and an auditor, and some items."""

    base: str
    production_id: str
    emails: dict[str, str]
    tokens: dict[str, str]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def h(self, role: str) -> dict[str, str]:
        """Authorization headers for a role."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def code(self, name: str) -> str:
        """The canonical tag code of a seeded item."""
        code: str = self.items[name]["tag"]["code"]
        return code

    async def register(
        self,
        client: httpx.AsyncClient,
        name: str,
        capability_class: str = "non_firing_replica",
        *,
        inspect: bool = True,
        photo: bool = True,
        marks: list[str] | None = None,
    ) -> dict[str, Any]:
        """Register an item (with a photo) through the API, inspected unless told not."""
        body = {
            "name": name,
            "capability_class": capability_class,
            "make": "Prop Shop",
            "model": "Cast resin",
            "distinctive_marks": marks if marks is not None else ["Chipped left grip", "Blue dot"],
        }
        if photo:
            import json

            r = await client.post(
                f"/api/v1/productions/{self.production_id}/items",
                data={"item": json.dumps(body)},
                files={"photos": ("p.jpg", jpeg_bytes(), "image/jpeg")},
                headers=self.h("prop_master"),
            )
        else:
            r = await client.post(
                f"/api/v1/productions/{self.production_id}/items",
                json=body,
                headers=self.h("prop_master"),
            )
        assert r.status_code == 201, r.text
        item: dict[str, Any] = r.json()
        if inspect:
            r = await client.post(
                f"/api/v1/items/{item['id']}/inspections",
                json={"kind": "periodic", "result": "pass", "notes": "seeded"},
                headers=self.h("prop_master"),
            )
            assert r.status_code == 201, r.text
        self.items[name] = item
        return item

    async def add(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """:meth:`register` with a client of its own, for a test that needs no other."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as client:
            return await self.register(client, name, *args, **kwargs)


async def seed_world(base: str, dsn: str) -> LiveWorld:
    """A studio, one production, a prop master, a scanner and an auditor (via the API)."""
    from api.seed import create_admin

    tag = uuid.uuid4().hex[:8]
    admin_email = f"admin-{tag}@pwa.test"
    studio = await create_admin(dsn, admin_email, PASSWORD, f"PWA Studio {tag}")
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def sign_in(email: str) -> str:
            r = await client.post(
                "/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            token: str = r.json()["token"]
            return token

        admin = {"Authorization": f"Bearer {await sign_in(admin_email)}"}
        r = await client.post(
            "/api/v1/productions",
            json={"studio_id": studio["studio_id"], "name": f"Dust Road {tag}"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        pid: str = r.json()["id"]
        emails: dict[str, str] = {}
        tokens: dict[str, str] = {}
        for role in ("prop_master", "scanner", "auditor"):
            email = f"{role}-{tag}@pwa.test"
            r = await client.post(
                f"/api/v1/studios/{studio['studio_id']}/accounts",
                json={"email": email, "password": PASSWORD},
                headers=admin,
            )
            assert r.status_code == 201, r.text
            r = await client.post(
                f"/api/v1/productions/{pid}/members",
                json={"email": email, "role": role},
                headers=admin,
            )
            assert r.status_code == 200, r.text
            emails[role] = email
            tokens[role] = await sign_in(email)
    return LiveWorld(base=base, production_id=pid, emails=emails, tokens=tokens)
