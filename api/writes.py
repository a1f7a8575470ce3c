"""What every command response does after its transaction commits."""

from __future__ import annotations

import uuid

from api.state import AppServices
from core.faults import fault_point

CONSISTENCY_TOKEN = "X-Consistency-Token"  # noqa: S105 - a header name


async def announce(services: AppServices, user_id: uuid.UUID) -> None:
    """Poke the workers to project the user; a lost poke is the sweeper's to recover."""
    fault_point("after_commit")
    await services.enqueuer.send(services.enqueuer.actors.project_user, str(user_id))


def consistency_headers(stream_version: int) -> dict[str, str]:
    """The token a client sends back to read its own write."""
    return {CONSISTENCY_TOKEN: str(stream_version)}
