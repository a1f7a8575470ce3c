"""Carrying a request's log context from the API, through the broker, into the actor's coroutine."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import structlog
from dramatiq.asyncio import async_to_sync
from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware

from core.sentry import tag_scope

P = ParamSpec("P")
R = TypeVar("R")

#: Message option that carries the X-Request-ID of the request that enqueued the message.
REQUEST_ID_OPTION = "request_id"
#: Actors whose first argument is the id of the user the message is about.
USER_ACTORS = frozenset({"project_user"})


class LogContext(Middleware):
    """Binds request id, message id, actor and user into every log line while a message is processed.

    The request and user ids also go on the thread's Sentry scope, for errors reported after the
    message (when this context is already cleared).
    """

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        request_id = message.options.get(REQUEST_ID_OPTION)
        user_id = str(message.args[0]) if message.actor_name in USER_ACTORS and message.args else None
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, message_id=message.message_id, actor=message.actor_name
        )
        if user_id is not None:
            structlog.contextvars.bind_contextvars(user_id=user_id)
        tag_scope(request_id=request_id, user_id=user_id)

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()


def in_log_context(fn: Callable[P, Awaitable[R]]) -> Callable[P, R]:
    """Run an async actor body on the worker's event loop with the worker thread's log context.

    Dramatiq runs coroutines on a separate event-loop thread, where the context variables
    bound by `LogContext` in the worker thread are not visible; this copies them across.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = structlog.contextvars.get_contextvars()

        async def with_context() -> R:
            structlog.contextvars.bind_contextvars(**bound)
            return await fn(*args, **kwargs)

        return async_to_sync(with_context)()

    return run
