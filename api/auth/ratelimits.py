"""Rate limits shared by every API process through Redis (GCRA: a burst refilled evenly)."""

from __future__ import annotations

import hashlib
import math

import structlog
from litestar.exceptions import TooManyRequestsException
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis import Keys

log = structlog.get_logger(__name__)

RATE_LIMITED = Counter("ironlog_rate_limited_total", "Requests refused by a rate limit", ["limit"])
RATE_LIMIT_UNAVAILABLE = Counter(
    "ironlog_rate_limit_unavailable_total", "Rate-limit checks skipped because Redis did not answer"
)

# The key holds the theoretical arrival time (ms, Redis clock) of the next request. A request is
# allowed while that time is no more than `burst - 1` intervals ahead of now.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
    return math.ceil(tat - now - tolerance)
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil(next_tat - now))
return 0
"""

PERIOD_MS = 60_000


def subject_key(value: str) -> str:
    """A key part for an email or address that does not store it in the clear."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    """Checks named limits of N attempts a minute per subject."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_GCRA)

    async def wait_ms(self, limit: str, subject: str, per_minute: int) -> int:
        """Milliseconds until `subject` may try again under `limit`; 0 means allowed (and counted)."""
        key = self._keys.key("ratelimit", limit, subject_key(subject))
        try:
            return int(await self._script(keys=[key], args=[PERIOD_MS / per_minute, per_minute]))
        except RedisError as exc:
            # Redis holds no truth: when it is down, limits lapse rather than take logins with them.
            RATE_LIMIT_UNAVAILABLE.inc()
            log.warning("rate_limit_unavailable", limit=limit, error=repr(exc))
            return 0

    async def enforce(self, limit: str, subject: str, per_minute: int) -> None:
        """Raise a 429 with Retry-After when `subject` is over `limit`."""
        wait = await self.wait_ms(limit, subject, per_minute)
        if wait > 0:
            RATE_LIMITED.labels(limit).inc()
            log.info("rate_limited", limit=limit, retry_after_ms=wait)
            raise TooManyRequestsException(
                "Too many attempts; try again later.",
                headers={"Retry-After": str(max(1, math.ceil(wait / 1000)))},
            )
