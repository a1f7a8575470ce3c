"""HEAD on every GET route (RFC 9110 §9.3.2): the GET handler answers, and only its status and headers
are sent. Litestar 2 routes HEAD only to handlers declared for it, which may return no body; the plugin
routes HEAD to each GET handler (api/plugin.py) and the request pipeline (api/request_context.py) calls
`answer_head` for a HEAD request, which drops the body."""

from __future__ import annotations

import anyio
from litestar.types import ASGIApp, Message, Receive, Scope, Send


async def answer_head(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Runs `app` for a HEAD request: sends the answer's start and an empty body; a streamed answer is
    ended there."""
    ended = False
    async with anyio.create_task_group() as group:

        async def send_headers_only(message: Message) -> None:
            nonlocal ended
            if message["type"] != "http.response.body":
                await send(message)
                return
            if ended:
                return
            ended = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            if message.get("more_body", False):
                # A stream (an event stream lasts as long as its token): nothing more will be sent.
                group.cancel_scope.cancel()

        await app(scope, receive, send_headers_only)
