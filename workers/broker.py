"""The Dramatiq broker, chosen by `BROKER_URL`: RabbitMQ (`amqp://`, production: pushed deliveries) or
Redis (`redis://`, development and the embedded start: polled). Namespaced by the configured prefix,
with explicit middleware.

Messages are only pokes ("project user U"): the pending table and the sweeper recover one that is lost,
so the API's sends try once with short timeouts and never stall a write on a sick broker.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pika
import pika.exceptions
import redis
from dramatiq import Message
from dramatiq.asyncio import EventLoopThread, set_event_loop_thread
from dramatiq.broker import Broker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Middleware,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.worker import Worker
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import loops
from core.settings import Settings

AMQP_SCHEMES = ("amqp", "amqps")
#: The queues the actors use (workers/actors.py), by their name without the namespace.
QUEUES = ("default", "projections")
_NOT_IN_QUEUE_NAMES = re.compile(r"[^a-zA-Z0-9._-]+")


def broker_namespace(settings: Settings) -> str:
    return settings.redis.prefix + "dramatiq"


def uses_rabbitmq(settings: Settings) -> bool:
    return urlsplit(settings.redis.broker_url or "").scheme in AMQP_SCHEMES


def queue_name(settings: Settings, queue: str) -> str:
    """The broker's name for one of `QUEUES`. Redis namespaces its keys, so the name stays as it is;
    RabbitMQ has one namespace per virtual host, so the prefix goes into the name, written in the
    characters Dramatiq allows there (`ironlog:` → `ironlog.projections`)."""
    if not uses_rabbitmq(settings):
        return queue
    prefix = _NOT_IN_QUEUE_NAMES.sub(".", settings.redis.prefix).strip(".")
    return f"{prefix}.{queue}" if prefix else queue


class AsyncIOOnUvloop(AsyncIO):
    """Dramatiq's event loop thread for async actors, running uvloop (core/loops.py) instead of the
    default loop: projection batches are mostly round trips, and those cost less CPU on it."""

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        thread = EventLoopThread(self.logger)
        thread.loop.close()  # the default loop its constructor made, never run
        thread.loop = loops.new_event_loop()
        thread.start(timeout=1.0)
        set_event_loop_thread(thread)


def _middleware(settings: Settings, worker_middleware: list[Middleware] | None) -> list[Middleware]:
    return [
        AgeLimit(),
        TimeLimit(time_limit=settings.worker.time_limit_ms),
        ShutdownNotifications(),
        Retries(
            max_retries=settings.worker.max_retries,
            min_backoff=settings.worker.min_backoff_ms,
            max_backoff=settings.worker.max_backoff_ms,
        ),
        AsyncIOOnUvloop(),
        *(worker_middleware or []),
    ]


def build_broker(settings: Settings, *, worker_middleware: list[Middleware] | None = None) -> Broker:
    """A broker for enqueueing (API) or, with `worker_middleware`, for consuming (worker).

    The enqueueing side has short timeouts and no retries: a dead broker must fail a send quickly,
    and the sweeper recovers what was not enqueued.
    """
    if settings.redis.broker_url is None:
        raise RuntimeError("BROKER_URL is not resolved; start services first")
    consuming = worker_middleware is not None
    timeout = 10.0 if consuming else settings.worker.enqueue_timeout_s
    middleware = _middleware(settings, worker_middleware)
    if uses_rabbitmq(settings):
        kind = RabbitmqBroker if consuming else OnceRabbitmqBroker
        # Confirmed deliveries: a send that returns was taken by RabbitMQ (durable queue, persistent).
        # Several nodes may be listed, separated by ";".
        broker = kind(url=settings.redis.broker_url, confirm_delivery=True, middleware=middleware)
        nodes = broker.parameters if isinstance(broker.parameters, list) else [broker.parameters]
        for parameters in nodes:
            # Named in RabbitMQ's connection list: the role and the deployment's prefix.
            role = "worker" if consuming else "api"
            parameters.client_properties = {"connection_name": f"ironlog-{role} {settings.redis.prefix}"}
            parameters.connection_attempts = 3 if consuming else 1
            parameters.retry_delay = 1 if consuming else 0
            parameters.socket_timeout = timeout
            parameters.blocked_connection_timeout = timeout
            parameters.stack_timeout = timeout
        return broker
    client = redis.Redis.from_url(
        settings.redis.broker_url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=None if consuming else Retry(NoBackoff(), 0),
    )
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client,
        namespace=broker_namespace(settings),
        heartbeat_timeout=settings.worker.heartbeat_timeout_ms,
        # Chance in a million that a fetch also requeues the messages of dead workers.
        maintenance_chance=settings.worker.maintenance_chance,
        middleware=middleware,
    )


class OnceRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker, sending each message once: its own `enqueue` reconnects and tries up
    to six times, which would hold a write while RabbitMQ is away."""

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        if delay is not None:  # the API never delays a poke; the workers' retries do, on their broker
            return super().enqueue(message, delay=delay)
        try:
            self.declare_queue(message.queue_name, ensure=True)
            self.emit_before("enqueue", message, delay)
            self.channel.basic_publish(
                exchange="",
                routing_key=message.queue_name,
                body=message.encode(),
                properties=pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )
            self.emit_after("enqueue", message, delay)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            del self.connection  # the next send opens a new connection and channel
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        return message


def ping(broker: Broker) -> None:
    """Raise if the broker does not answer (within the timeouts it was built with)."""
    if isinstance(broker, RabbitmqBroker):
        broker.connection.process_data_events(time_limit=0)
    else:
        assert isinstance(broker, RedisBroker)
        broker.client.ping()


def waiting_messages(broker: Broker, settings: Settings, queue: str = "projections") -> int:
    """Messages in one of `QUEUES` that no worker has taken yet."""
    name = queue_name(settings, queue)
    if isinstance(broker, RabbitmqBroker):
        declared = broker.channel.queue_declare(queue=name, passive=True)
        return int(declared.method.message_count)
    assert isinstance(broker, RedisBroker)
    return int(broker.client.llen(f"{broker_namespace(settings)}:{name}"))


def close(broker: Broker) -> None:
    if isinstance(broker, RabbitmqBroker):
        broker.close()
    else:
        assert isinstance(broker, RedisBroker)
        broker.client.close()
