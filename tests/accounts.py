"""Accounts for tests: sign-ups through the API and access tokens minted directly."""

from __future__ import annotations

import uuid
from typing import Any

from api.auth.tokens import AccessTokens
from commands.accounts import Role
from commands.sessions import IssuedTokens
from core import clock
from core.settings import Settings

PASSWORD = "plates-and-chalk-42"


def access_headers(
    settings: Settings, role: Role = "user", user_id: uuid.UUID | None = None
) -> dict[str, str]:
    """An Authorization header for a token of `role`, signed with the configured secret."""
    issued = IssuedTokens(
        user_id=user_id or uuid.uuid4(),
        role=role,
        family_id=uuid.uuid4(),
        refresh_token="",
        refresh_expires_at=clock.now(),
        access_token_id=uuid.uuid4(),
        issued_at=clock.now(),
    )
    return {"Authorization": f"Bearer {AccessTokens(settings).mint(issued)}"}


def new_identity(**overrides: Any) -> dict[str, Any]:
    """A registration body with a unique email and handle."""
    tag = uuid.uuid4().hex[:10]
    return {
        "email": f"lifter-{tag}@example.com",
        "password": PASSWORD,
        "displayName": f"Lifter {tag}",
        "handle": f"lifter_{tag}",
        **overrides,
    }


async def sign_up(client: Any, **overrides: Any) -> dict[str, Any]:
    """Register through the API; the response body with the body sent under `sent`."""
    body = new_identity(**overrides)
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "sent": body}


def bearer(signed_in: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed_in['accessToken']}"}
