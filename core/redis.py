"""Redis clients and key naming: every key carries the configured prefix and a user hash tag."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from core.settings import Settings


def open_redis(settings: Settings) -> Redis:
    """A client for read models and pub/sub, with short timeouts so a dead Redis fails fast."""
    if settings.redis.url is None:
        raise RuntimeError("REDIS_URL is not resolved; start services first")
    return Redis.from_url(
        settings.redis.url,
        socket_timeout=settings.redis.socket_timeout_s,
        socket_connect_timeout=settings.redis.socket_timeout_s,
        health_check_interval=30,
    )


def open_subscriber(settings: Settings) -> Redis:
    """A client for one long-lived pub/sub connection, named `<prefix>subscriber` in CLIENT LIST.

    It never reconnects behind the caller's back: messages published while a connection is down
    are lost, so the subscriber must see every drop to tell its listeners to catch up.
    """
    if settings.redis.url is None:
        raise RuntimeError("REDIS_URL is not resolved; start services first")
    return Redis.from_url(
        settings.redis.url,
        socket_timeout=settings.redis.socket_timeout_s,
        socket_connect_timeout=settings.redis.socket_timeout_s,
        health_check_interval=30,
        retry=Retry(NoBackoff(), 0),
        client_name=settings.redis.prefix + "subscriber",
    )


#: Every Lua script queued by its sha (`queue_script`), by sha: what `run_pipeline` loads when Redis
#: does not know one (it restarted, failed over or flushed its scripts).
_QUEUED_SCRIPTS: dict[str, Any] = {}


def queue_script(pipe: Pipeline, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> None:
    """Queue a call of `script` on `pipe` by its sha alone. (Called with `client=pipe`, redis-py asks
    Redis whether the pipeline's scripts exist before every execute: a round trip more each time.)
    Run the pipeline with `run_pipeline`."""
    _QUEUED_SCRIPTS[script.sha] = script.script
    pipe.evalsha(script.sha, len(keys), *keys, *args)


async def run_pipeline(redis: Redis, queue: Callable[[Pipeline], Awaitable[None]]) -> list[Any]:
    """Queue commands with `queue` on a pipeline without a transaction and run it: one round trip.
    When Redis does not know a script `queue_script` queued, load the scripts and run it all again,
    so what `queue` queues must be safe to repeat (a publish is then heard twice)."""
    for attempt in range(2):
        async with redis.pipeline(transaction=False) as pipe:
            await queue(pipe)
            try:
                answers: list[Any] = await pipe.execute()
            except NoScriptError:
                if attempt:
                    raise
            else:
                return answers
        for script in list(_QUEUED_SCRIPTS.values()):
            await redis.script_load(script)
    raise AssertionError("unreachable")


class Keys:
    """Builds Redis keys and channel names under one prefix.

    Per-user keys use a `{user_id}` hash tag so one user's keys share a Redis Cluster slot.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def user(self, user_id: UUID, *parts: str) -> str:
        return self.prefix + ":".join((f"u:{{{user_id}}}", *parts))

    def user_pattern(self, user_id: UUID) -> str:
        """A SCAN pattern for every key of one user."""
        return self._escaped() + f"u:{{{user_id}}}:*".replace("{", "\\{").replace("}", "\\}")

    def channel(self, *parts: str) -> str:
        return self.prefix + "ch:" + ":".join(parts)

    def channel_pattern(self, *parts: str) -> str:
        """A PSUBSCRIBE pattern for every channel under `parts` (prefix escaped)."""
        return self._escaped() + "ch:" + ":".join((*parts, "*"))

    def _escaped(self) -> str:
        return "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)

    def pattern(self) -> str:
        """A SCAN pattern that matches every key of this prefix."""
        return self._escaped() + "*"

    def pattern_of(self, *parts: str) -> str:
        """A SCAN pattern for keys under `parts` (glob characters in the parts are kept as globs)."""
        return self._escaped() + ":".join(parts).replace("{", "\\{").replace("}", "\\}")
