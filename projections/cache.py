"""Redis documents: read-model bytes under version-guarded compare-and-set, one user per hash slot.

Each document is a hash {v: stream version, s: stamp, z: zone, e: ETag, b: body}. A write lands
only if (v, s) is newer than what is stored, so a slow writer never replaces a newer document.
An empty body is a tombstone: the thing was deleted at version v. The key `ver` records the
version up to which the user's documents are in Redis, and a write older than it lands nowhere: the
sync may have dropped that document on purpose (a workout no longer among the hot ones), and a reader
that read Postgres before the change must not put the old body back.

Bodies are stored packed (projections/packing.py): `put` packs, `read` unpacks.

Redis holds the hot set only (projections/sync.py): what a user opens first is pushed, the rest is
read through from Postgres on demand and kept `READ_THROUGH_TTL_S`. Every document has a TTL and
`ver` has none, so the cache Redis runs with `maxmemory-policy volatile-lru` (docs/operations.md):
an evicted document is refilled on its next read.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from core.redis import Keys, queue_script
from projections.packing import pack, unpack

DOCUMENT_TTL_S = 7 * 86_400
PAGE_TTL_S = 3600
#: How long a document read through from Postgres (not pushed by the sync) stays in Redis.
READ_THROUGH_TTL_S = 600

# KEYS: the document, the user's `ver`.
_PUT_DOCUMENT = """
local current = redis.call('HMGET', KEYS[1], 'v', 's')
local cv, cs = tonumber(current[1]), tonumber(current[2]) or 0
local v, s = tonumber(ARGV[1]), tonumber(ARGV[2])
if cv and (cv > v or (cv == v and cs >= s)) then
    return 0
end
local synced = tonumber(redis.call('GET', KEYS[2]))
if synced and synced > v then
    return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 's', ARGV[2], 'z', ARGV[3], 'e', ARGV[4], 'b', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

_PUT_VERSION = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= tonumber(ARGV[1]) then
    return current
end
redis.call('SET', KEYS[1], ARGV[1])
return tonumber(ARGV[1])
"""

_READ = """
local document = redis.call('HMGET', KEYS[2], 'v', 's', 'z', 'e', 'b')
return {redis.call('GET', KEYS[1]), document[1], document[2], document[3], document[4], document[5]}
"""


def body_etag(body: bytes) -> str:
    """A strong ETag for a body: a short digest of its bytes."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True, slots=True)
class Cached:
    """What Redis holds for one document, and how far the user's documents are synced."""

    synced: int | None  # the user's `ver`
    version: int | None  # None: no document
    stamp: int
    zone: str
    etag: str
    body: bytes

    @property
    def is_tombstone(self) -> bool:
        return self.version is not None and not self.body


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


#: How many users' key names a DocumentCache holds before it starts over (about 200 bytes each).
_KEYS_HELD = 10_000


class DocumentKeys:
    """The Redis keys of one user's documents."""

    def __init__(self, keys: Keys, user_id: uuid.UUID) -> None:
        self.synced = keys.user(user_id, "ver")
        self.dashboard = keys.user(user_id, "dash")
        self._keys = keys
        self._user_id = user_id

    def workout(self, workout_id: uuid.UUID) -> str:
        return self._keys.user(self._user_id, "w", str(workout_id))

    def feed_page(self, limit: int, cursor: str | None) -> str:
        return self._keys.user(self._user_id, "feed", str(limit), cursor or "-")


def projected_channel(keys: Keys, user_id: uuid.UUID) -> str:
    """Where the runner announces that a user's documents reached a version."""
    return keys.channel("projected", str(user_id))


def changed_channel(keys: Keys, user_id: uuid.UUID) -> str:
    """Where the sync announces which of a user's read models changed (projections/outbox.py)."""
    return keys.channel("changed", str(user_id))


class DocumentCache:
    """Reads and version-guarded writes of documents."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._put = redis.register_script(_PUT_DOCUMENT)
        self._put_version = redis.register_script(_PUT_VERSION)
        self._read: AsyncScript = redis.register_script(_READ)
        #: Each read names its user's keys twice or more: built once per user, for the users seen last.
        self._keys_of: dict[uuid.UUID, DocumentKeys] = {}

    def keys_of(self, user_id: uuid.UUID) -> DocumentKeys:
        keys = self._keys_of.get(user_id)
        if keys is None:
            if len(self._keys_of) >= _KEYS_HELD:
                self._keys_of.clear()
            keys = self._keys_of[user_id] = DocumentKeys(self.keys, user_id)
        return keys

    async def read(self, synced_key: str, key: str) -> Cached:
        """One round trip: the user's synced version and the document under `key`."""
        synced, version, stamp, zone, etag, body = await self._read(keys=[synced_key, key])
        return Cached(
            synced=_int(synced),
            version=_int(version),
            stamp=_int(stamp) or 0,
            zone=(zone or b"").decode(),
            etag=(etag or b"").decode(),
            body=unpack(body) if body else b"",
        )

    async def put(
        self,
        pipe: Pipeline,
        key: str,
        synced_key: str,
        *,
        version: int,
        body: bytes,
        etag: str,
        stamp: int = 0,
        zone: str = "",
        ttl_s: int = DOCUMENT_TTL_S,
        packed: bool = False,
    ) -> None:
        """Queue a compare-and-set of one document on `pipe` (run by `core.redis.run_pipeline`): it
        lands only if newer than the stored one and not older than the user's `ver` (`synced_key`, in
        the same hash slot). `packed`: the
        body is already as Postgres stores it (packed, or JSON from before packing), and goes as it is."""
        stored = body if packed or not body else pack(body)
        queue_script(pipe, self._put, [key, synced_key], [version, stamp, zone, etag, stored, ttl_s])

    async def put_synced(self, pipe: Pipeline, synced_key: str, version: int) -> None:
        queue_script(pipe, self._put_version, [synced_key], [version])
