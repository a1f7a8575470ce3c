"""Redis documents: a write lands only when newer, so a slow writer never replaces a newer document."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from core.redis import Keys
from core.settings import Settings
from projections.cache import DocumentCache, DocumentKeys, body_etag
from tests.harness import delete_prefix


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[DocumentCache]:
    assert settings.redis.url
    prefix = f"{settings.redis.prefix}cache-{uuid.uuid4().hex[:6]}:"
    redis = Redis.from_url(settings.redis.url)
    yield DocumentCache(redis, Keys(prefix))
    await redis.aclose()
    await delete_prefix(settings.redis.url, prefix)


async def put(
    cache: DocumentCache, names: DocumentKeys, key: str, version: int, body: bytes, stamp: int = 0
) -> None:
    async with cache.redis.pipeline(transaction=False) as pipe:
        await cache.put(
            pipe, key, names.synced, version=version, body=body, etag=body_etag(body), stamp=stamp
        )
        await pipe.execute()


async def synced(cache: DocumentCache, names: DocumentKeys, version: int) -> None:
    async with cache.redis.pipeline(transaction=False) as pipe:
        await cache.put_synced(pipe, names.synced, version)
        await pipe.execute()


async def test_an_older_version_never_overwrites_a_newer_document(cache: DocumentCache) -> None:
    names = cache.keys_of(uuid.uuid4())
    await put(cache, names, names.dashboard, 5, b'{"v":5}')
    await put(cache, names, names.dashboard, 3, b'{"v":3}')
    await put(cache, names, names.dashboard, 5, b'{"v":"5 again"}')

    cached = await cache.read(names.synced, names.dashboard)

    assert (cached.version, cached.body, cached.etag) == (5, b'{"v":5}', body_etag(b'{"v":5}'))
    await put(cache, names, names.dashboard, 6, b'{"v":6}')
    assert (await cache.read(names.synced, names.dashboard)).body == b'{"v":6}'


async def test_at_one_version_a_later_stamp_wins(cache: DocumentCache) -> None:
    names = cache.keys_of(uuid.uuid4())
    await put(cache, names, names.dashboard, 4, b"monday", stamp=739_000)
    await put(cache, names, names.dashboard, 4, b"tuesday", stamp=739_001)
    await put(cache, names, names.dashboard, 4, b"monday again", stamp=739_000)
    assert (await cache.read(names.synced, names.dashboard)).body == b"tuesday"


async def test_a_tombstone_blocks_an_older_fill(cache: DocumentCache) -> None:
    names = cache.keys_of(uuid.uuid4())
    workout = names.workout(uuid.uuid4())
    await put(cache, names, workout, 9, b"")
    await put(cache, names, workout, 8, b'{"title":"deleted long ago"}')
    cached = await cache.read(names.synced, workout)
    assert cached.is_tombstone and cached.version == 9


async def test_the_synced_version_only_moves_forward(cache: DocumentCache) -> None:
    names = cache.keys_of(uuid.uuid4())
    for version in (3, 7, 5):
        await synced(cache, names, version)
    assert (await cache.read(names.synced, names.dashboard)).synced == 7


async def test_nothing_older_than_the_synced_version_lands_where_no_document_is(cache: DocumentCache) -> None:
    """The sync drops a workout that left the hot set after moving `ver`: a reader that read Postgres
    before the change cannot put the old body back; one that read it after can."""
    names = cache.keys_of(uuid.uuid4())
    workout = names.workout(uuid.uuid4())
    await synced(cache, names, 12)
    await put(cache, names, workout, 11, b'{"formula":"epley"}')
    assert (await cache.read(names.synced, workout)).version is None
    await put(cache, names, workout, 12, b'{"formula":"brzycki"}')
    assert (await cache.read(names.synced, workout)).body == b'{"formula":"brzycki"}'
