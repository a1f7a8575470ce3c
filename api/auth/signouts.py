"""Every API process's copy of the users' "not before" instants (commands/sessions.py).

The process that ends a user's access tokens commits the instant to Postgres, takes it at once, and
announces it on `<prefix>ch:signout:<token subject>`. The others hear it through their announcement
subscription (queries/announcements.py), and re-read every recent instant from Postgres at start and
after every (re)subscription, since pub/sub loses what is published while a connection is down.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.auth.tokens import AccessTokens
from commands.sessions import access_token_cutoffs, token_subject
from core import clock
from core.redis import Keys
from core.settings import AuthSettings

log = structlog.get_logger(__name__)

KIND = "signout"


def sign_out_channel(keys: Keys, user_id: uuid.UUID) -> str:
    """Where the end of the user's access tokens is announced."""
    return keys.channel(KIND, token_subject(user_id).hex())


async def publish_sign_out(redis: Redis, keys: Keys, user_id: uuid.UUID, not_before: datetime) -> None:
    """Tell every API process that the user's access tokens issued until `not_before` are ended (after
    the commit that stored it); a process that misses it re-reads Postgres when its subscription returns."""
    try:
        await redis.publish(sign_out_channel(keys, user_id), repr(not_before.timestamp()))
    except RedisError as exc:
        # The others re-read when their subscription comes back, or at their next retry meanwhile.
        log.warning("signout_announcement_failed", error=repr(exc))


class SignOuts:
    """Keeps `tokens` refusing what each user's "not before" refuses; a follower of the announcements."""

    kind = KIND

    def __init__(
        self, tokens: AccessTokens, pool: asyncpg.Pool, redis: Redis, keys: Keys, settings: AuthSettings
    ) -> None:
        self._tokens = tokens
        self._pool = pool
        self._redis = redis
        self._keys = keys
        self._settings = settings

    def channel_of(self, user_id: uuid.UUID) -> str:
        return sign_out_channel(self._keys, user_id)

    async def announce(self, user_id: uuid.UUID, not_before: datetime) -> None:
        """After the commit that ended the user's tokens: refuse them here now, and tell the others."""
        self._tokens.sign_out(token_subject(user_id), not_before.timestamp())
        await publish_sign_out(self._redis, self._keys, user_id, not_before)

    def heard(self, key: str, data: bytes) -> None:
        try:
            subject, not_before = bytes.fromhex(key), float(data)
        except ValueError:
            log.warning("signout_announcement_unreadable", key=key)
            return
        self._tokens.sign_out(subject, not_before)

    async def reread(self) -> None:
        now = clock.now()
        stored = await access_token_cutoffs(self._pool, now, self._settings)
        horizon = now - timedelta(seconds=self._settings.access_ttl_s + self._settings.leeway_s)
        self._tokens.signed_out(
            {subject: at.timestamp() for subject, at in stored.items()}, horizon.timestamp()
        )
