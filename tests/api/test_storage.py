"""Blob storage: content-addressed, idempotent, atomic, and the same behaviour on every backend."""

from __future__ import annotations

import asyncio
import hashlib
import os
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from obstore.store import MemoryStore, S3Store

import api.storage
from api.storage import (
    BlobStore,
    InvalidBlobKey,
    LocalDiskStore,
    ObstoreBlobStore,
    check_store,
    store_from_settings,
)

DATA = b"\xff\xd8 a photo of a rubber revolver \xff\xd9"
KEY = hashlib.sha256(DATA).hexdigest()
MISSING = hashlib.sha256(b"never stored").hexdigest()


def _files(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file()]


S3_KEYS = {"AWS_ACCESS_KEY_ID": "propcheck-test", "AWS_SECRET_ACCESS_KEY": "propcheck-secret"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 server speaking the S3 REST API over HTTP on localhost (moto's server: no
    real bucket is reachable from CI). The store is driven through obstore exactly as
    with a real endpoint: signed requests, HTTP, the bucket's own keys."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_bucket(endpoint: str) -> Any:
    """A new empty bucket on the endpoint; its boto3 client and name."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    name = f"props-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name


def s3_url(endpoint: str, bucket: str, prefix: str = "studio-a") -> str:
    return f"s3://{bucket}/{prefix}?endpoint={endpoint}&region=us-east-1&allow_http=true"


@pytest.fixture(params=["local", "obstore-memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalDiskStore(tmp_path / "blobs")
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        _, bucket = s3_bucket(endpoint)
        return store_from_settings(s3_url(endpoint, bucket), tmp_path, env=S3_KEYS)
    return ObstoreBlobStore(MemoryStore())


async def test_put_then_get_returns_the_same_bytes(store: BlobStore) -> None:
    assert not await store.exists(KEY)
    await store.put(KEY, DATA, "image/jpeg")
    assert await store.exists(KEY)
    assert await store.get(KEY) == DATA


async def test_missing_blob_is_none_not_an_error(store: BlobStore) -> None:
    assert await store.get(MISSING) is None
    assert not await store.exists(MISSING)


async def test_putting_the_same_blob_again_is_harmless(store: BlobStore) -> None:
    await asyncio.gather(*(store.put(KEY, DATA, "image/jpeg") for _ in range(5)))
    await store.put(KEY, DATA, "image/jpeg")
    assert await store.get(KEY) == DATA


async def test_data_must_match_its_key(store: BlobStore) -> None:
    with pytest.raises(InvalidBlobKey):
        await store.put(MISSING, DATA, "image/jpeg")
    assert not await store.exists(MISSING)


@pytest.mark.parametrize(
    "key", ["", "../" * 10 + "etc/passwd", KEY.upper(), KEY[:-1], KEY + "0", f"/{KEY[1:]}"]
)
async def test_keys_that_are_not_sha256_hex_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        await store.get(key)
    with pytest.raises(InvalidBlobKey):
        await store.exists(key)
    with pytest.raises(InvalidBlobKey):
        await store.put(key, DATA, "image/jpeg")


async def test_local_disk_layout_is_sharded_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    await store.put(KEY, DATA, "image/jpeg")
    assert (tmp_path / KEY[:2] / KEY[2:4] / KEY).read_bytes() == DATA
    assert _files(tmp_path) == [KEY]


async def test_local_disk_write_that_fails_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalDiskStore(tmp_path)

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(api.storage.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        await store.put(KEY, DATA, "image/jpeg")
    assert not await store.exists(KEY)
    assert _files(tmp_path) == []


async def test_local_disk_never_shows_a_partial_blob(tmp_path: Path) -> None:
    # A reader racing a writer sees the whole blob or nothing, never a prefix.
    big = os.urandom(2_000_000)
    key = hashlib.sha256(big).hexdigest()
    store = LocalDiskStore(tmp_path)
    seen: list[int] = []

    async def reader() -> None:
        for _ in range(50):
            got = await store.get(key)
            seen.append(0 if got is None else len(got))
            await asyncio.sleep(0)

    await asyncio.gather(store.put(key, big, "image/jpeg"), reader())
    assert set(seen) <= {0, len(big)}
    assert await store.get(key) == big


async def test_obstore_wrapper_keeps_the_content_type_and_the_shared_layout() -> None:
    import obstore

    memory = MemoryStore()
    await ObstoreBlobStore(memory).put(KEY, DATA, "image/png")
    result = await obstore.get_async(memory, f"{KEY[:2]}/{KEY[2:4]}/{KEY}")
    assert result.attributes["Content-Type"] == "image/png"
    assert bytes(await result.bytes_async()) == DATA


async def test_s3_keeps_the_shared_layout_under_the_prefix_and_the_content_type(
    s3_endpoint: str, tmp_path: Path
) -> None:
    client, bucket = s3_bucket(s3_endpoint)
    store = store_from_settings(s3_url(s3_endpoint, bucket), tmp_path, env=S3_KEYS)
    await store.put(KEY, DATA, "image/png")
    await store.put(KEY, DATA, "image/png")  # again: still one object
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"studio-a/{KEY[:2]}/{KEY[2:4]}/{KEY}"]
    head = client.head_object(Bucket=bucket, Key=listed[0]["Key"])
    assert head["ContentType"] == "image/png"
    assert await store.exists(KEY) and not await store.exists(MISSING)


async def test_a_store_that_cannot_be_used_stops_the_start(
    s3_endpoint: str, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # obstore reads a bucket that is not there as a missing object: without the check
    # a typo in the bucket would show every photo as missing instead of failing.
    _, bucket = s3_bucket(s3_endpoint)
    await check_store(store_from_settings(s3_url(s3_endpoint, bucket), tmp_path, env=S3_KEYS))
    typo = store_from_settings(s3_url(s3_endpoint, f"{bucket}-typo"), tmp_path, env=S3_KEYS)
    assert await typo.get(KEY) is None  # what the check is there for
    with pytest.raises(RuntimeError, match="PROPCHECK_BLOB_URL"):
        await check_store(typo)
    # The server itself does not start on it.
    import msgspec
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    for k, v in S3_KEYS.items():
        monkeypatch.setenv(k, v)
    app = create_app(
        msgspec.structs.replace(settings, blob_url=s3_url(s3_endpoint, f"{bucket}-typo")),
        migrate=False,
    )
    with pytest.raises(BaseException) as failed:  # the lifespan's error, in a group
        async with AsyncTestClient(app=app):
            pass
    assert "PROPCHECK_BLOB_URL: the blob store cannot be used" in "".join(
        traceback.format_exception(failed.value)
    )
    unwritable = tmp_path / "ro"
    unwritable.mkdir()
    unwritable.chmod(0o500)
    if os.access(unwritable, os.W_OK):  # root writes anyway: make it a file instead
        unwritable.chmod(0o700)
        unwritable.rmdir()
        unwritable.write_bytes(b"not a folder")
    with pytest.raises(RuntimeError, match="PROPCHECK_BLOB_URL"):
        await check_store(LocalDiskStore(unwritable))


async def test_a_folder_that_stops_taking_files_is_caught_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalDiskStore(tmp_path / "blobs")
    await check_store(store)  # first start: the probe blob is written

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    # The probe is already there, so storing it again writes nothing; the check must
    # still find that the folder no longer takes new files (full, read-only, remounted).
    monkeypatch.setattr(api.storage.tempfile, "mkstemp", refuse)
    with pytest.raises(RuntimeError, match="PROPCHECK_BLOB_URL: the blob store cannot be used"):
        await check_store(store)


async def test_a_store_that_does_not_answer_stops_the_start_in_bounded_time(
    tmp_path: Path,
) -> None:
    class Silent(LocalDiskStore):
        async def put(self, key: str, data: bytes, content_type: str) -> None:
            await asyncio.sleep(3600)

    with pytest.raises(RuntimeError, match=r"did not answer within 0\.2 s"):
        await asyncio.wait_for(check_store(Silent(tmp_path), within_s=0.2), 5)


async def test_the_api_stores_and_serves_photos_from_s3(
    s3_endpoint: str, settings: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import msgspec
    from litestar.testing import AsyncTestClient

    from api.app import create_app
    from tests.api.helpers import jpeg

    client_s3, bucket = s3_bucket(s3_endpoint)
    for k, v in S3_KEYS.items():
        monkeypatch.setenv(k, v)
    app = create_app(
        msgspec.structs.replace(settings, blob_url=s3_url(s3_endpoint, bucket, "prod")),
        migrate=False,
    )
    async with AsyncTestClient(app=app) as client:
        r = await client.post(
            f"/api/v1/productions/{world.production_id}/items",
            data={"item": '{"name": "Resin shotgun", "capability_class": "non_firing_replica"}'},
            files={"photos": ("p.jpg", jpeg(1200, 800), "image/jpeg")},
            headers=world.h("prop_master"),
        )
        assert r.status_code == 201, r.text
        (photo,) = r.json()["photos"]
        for url in (photo["display_url"], photo["thumb_url"], photo["original_url"]):
            r = await client.get(url, headers=world.h("scanner"))
            assert r.status_code == 200, (url, r.text)
            assert r.headers["content-type"] == "image/jpeg"
            assert r.content[:2] == b"\xff\xd8"
    keys = [o["Key"] for o in client_s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) >= 3 and all(k.startswith("prod/") for k in keys)  # the probe + photos


# ------------------------------------------------------------------ configuration


def test_empty_url_means_local_disk_under_the_given_root(tmp_path: Path) -> None:
    store = store_from_settings("", tmp_path / "blobs")
    assert isinstance(store, LocalDiskStore)
    assert store.root == tmp_path / "blobs"


def test_file_url_means_local_disk_there(tmp_path: Path) -> None:
    store = store_from_settings(f"file://{tmp_path}/elsewhere", tmp_path / "blobs")
    assert isinstance(store, LocalDiskStore)
    assert store.root == tmp_path / "elsewhere"


async def test_memory_url_gives_a_working_store(tmp_path: Path) -> None:
    store = store_from_settings("memory://", tmp_path)
    await store.put(KEY, DATA, "image/jpeg")
    assert await store.get(KEY) == DATA


def test_s3_url_configures_bucket_prefix_endpoint_region_and_credentials(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    store = store_from_settings(
        "s3://prop-photos/studio-a?endpoint=http://minio.internal:9000&region=eu-west-1"
        "&allow_http=true",
        tmp_path,
        env=env,
    )
    assert isinstance(store, ObstoreBlobStore)
    s3 = store.store
    assert isinstance(s3, S3Store)
    assert s3.prefix == "studio-a"
    assert s3.config["bucket"] == "prop-photos"
    assert s3.config["endpoint"] == "http://minio.internal:9000"
    assert s3.config["region"] == "eu-west-1"
    assert s3.config["access_key_id"] == "AKIDEXAMPLE"
    assert s3.client_options is not None
    assert str(s3.client_options["allow_http"]).lower() == "true"
    assert "s3cr3t" not in repr(store)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/blobs",
        "s3://",
        "s3://bucket?endpont=https://typo.example",
        "s3://bucket?allow_http=maybe",
        "file://host/share",
    ],
)
def test_bad_urls_stop_the_server_with_a_clear_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PROPCHECK_BLOB_URL"):
        store_from_settings(url, tmp_path, env={})
