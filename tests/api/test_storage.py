"""Blob storage: content-addressed, idempotent, atomic, and the same behaviour on every backend."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest
from obstore.store import MemoryStore, S3Store

import api.storage
from api.storage import (
    BlobStore,
    InvalidBlobKey,
    LocalDiskStore,
    ObstoreBlobStore,
    store_from_settings,
)

DATA = b"\xff\xd8 a photo of a rubber revolver \xff\xd9"
KEY = hashlib.sha256(DATA).hexdigest()
MISSING = hashlib.sha256(b"never stored").hexdigest()


def _files(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file()]


@pytest.fixture(params=["local", "obstore-memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalDiskStore(tmp_path / "blobs")
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
