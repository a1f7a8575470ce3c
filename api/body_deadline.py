"""A request body arrives whole within a deadline, or the request ends with a 408.

uvicorn bounds neither how long a body takes nor how slowly it comes, so a client trickling a byte a
second would hold a connection and a request for as long as it liked; nginx, in front, bounds only the
gap between two reads (RELIABILITY.md, "Server limits"). The deadline runs from the moment the app gets
the request; once the body is complete, receiving (a stream waiting for the client to leave) is not
bounded.
"""

from __future__ import annotations

import asyncio

from litestar.exceptions import HTTPException
from litestar.types import Receive, ReceiveMessage


def receive_within(receive: Receive, timeout_s: float) -> Receive:
    """`receive`, bounded: a 408 problem for a body still incomplete `timeout_s` after the request came
    in. The answer closes the connection: the rest of the body would have to be read to find the next
    request. The request pipeline (api/request_context.py) bounds every request that sends a body."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    complete = False

    async def receive_in_time() -> ReceiveMessage:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise HTTPException(
                status_code=408,
                detail=f"The request body did not arrive within {timeout_s:g} s.",
                headers={"Connection": "close"},
            ) from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_in_time
