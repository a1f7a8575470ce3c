"""Actor declarations: thin wrappers that hand a message to a plain async function."""

from __future__ import annotations

import uuid

import dramatiq
import structlog
from dramatiq.broker import Broker

from core.faults import fault_point
from core.settings import Settings
from projections.runner import RunnerSettings, project_user
from workers.broker import queue_name
from workers.context import in_log_context
from workers.resources import WorkerResources, current_resources

log = structlog.get_logger(__name__)

PING_TTL_S = 3600


async def answer_ping(resources: WorkerResources, token: str) -> None:
    """Prove the worker path end to end: touch Postgres, then record the answer in Redis.

    Answers are counted, so a redelivered message shows up as a second answer.
    """
    await resources.pool.fetchval("SELECT 1")
    request_id = structlog.contextvars.get_contextvars().get("request_id") or ""
    key = resources.keys.key("ping", token)
    async with resources.redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, "request_id", request_id)
        pipe.hincrby(key, "answers", 1)
        pipe.expire(key, PING_TTL_S)
        await pipe.execute()
    log.info("ping_answered", token=token)
    fault_point("after_ping")


class Actors:
    """The actors of one broker, declared explicitly so API and worker bind their own broker."""

    def __init__(self, broker: Broker, settings: Settings) -> None:
        self.ping = dramatiq.Actor(
            in_log_context(self._ping),
            broker=broker,
            actor_name="ping",
            queue_name=queue_name(settings, "default"),
            priority=0,
            options={},
        )

        self.project_user = dramatiq.Actor(
            in_log_context(self._project_user),
            broker=broker,
            actor_name="project_user",
            queue_name=queue_name(settings, "projections"),
            priority=0,
            options={},
        )

    @staticmethod
    async def _ping(token: str) -> None:
        await answer_ping(current_resources(), token)

    @staticmethod
    async def _project_user(user_id: str, refresh_dashboard: bool = False) -> None:
        resources = current_resources()
        projection = resources.settings.projection
        outcome = await project_user(
            resources.pool,
            resources.redis,
            resources.keys,
            uuid.UUID(user_id),
            settings=RunnerSettings(
                batch_size=projection.batch_size,
                max_failures=projection.max_failures,
                lease_s=projection.lease_s,
                lease_wait_s=projection.lock_timeout_ms / 1000,
                hot_workouts=projection.hot_workouts,
            ),
            refresh_dashboard=refresh_dashboard,
            stopping=resources.stopping.is_set,
        )
        log.info(
            "user_projected",
            user_id=user_id,
            applied=outcome.applied,
            version=outcome.version,
            interrupted=outcome.interrupted,
        )
        if outcome.interrupted:
            # The process is stopping with events left: hand the message back for whichever worker
            # runs next, rather than leave them to the sweeper's slower re-poke.
            raise dramatiq.Retry(delay=0)
