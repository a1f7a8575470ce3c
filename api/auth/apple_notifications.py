"""`POST /v1/auth/oauth/apple/notifications`: Apple's server-to-server notifications about the users who
signed in with Apple (the endpoint registered for the app in Apple's developer account).

Apple posts `{"payload": "<JWT>"}`, signed with the keys its ID tokens are signed with, for this app
(`aud`), whose `events` claim names one event about one user (`sub`):

- `consent-revoked`: the user stopped using Sign in with Apple for the app. Every session of the
  account linked to that identity ends, and every access token; the identity stays linked, so the
  user signing in with Apple again finds the same account.
- `account-delete`: the Apple Account is gone for good. The sessions end as above, and the identity is
  unlinked when the account has another way to sign in (a password or another identity); when it has
  none, the link stays: the account keeps its data, and nobody can sign in to it any more.
- `email-enabled` / `email-disabled`: the user turned the private relay's forwarding on or off. The
  identity's email follows the address the event names.

Each notification is handled once (its `jti` is kept like an ID token's nonce): a delivery Apple
repeats later cannot end sessions signed in since. Any verified notification, even one of an event
or a user unknown here, answers 200, so that Apple stops repeating it; one that does not verify is a
401 problem saying why.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec
import structlog
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth.idtokens import AppleNotification
from api.auth.middleware import PUBLIC
from api.auth.oauth import checked, provider_of
from api.problems import problem_specs
from api.responses import Response
from api.state import AppServices
from commands.accounts import credentials_by_identity
from commands.identities import (
    MAX_ID_TOKEN_LIFETIME,
    ProviderIdentity,
    claim_nonce,
    link_identity,
    unlink_identity,
)
from commands.sessions import revoke_user_families
from core import clock
from core.errors import Conflict
from core.structs import RequestBody, ResponseBody

log = structlog.get_logger(__name__)

#: The events that end the account's sessions.
_SIGN_OUT = frozenset({"consent-revoked", "account-delete"})
_EMAIL = frozenset({"email-enabled", "email-disabled"})


class AppleNotificationBody(RequestBody):
    payload: Annotated[str, msgspec.Meta(min_length=1, max_length=16_384, description="Apple's signed JWT")]


class NotificationHandled(ResponseBody):
    event: str
    #: False when nothing here changed: a repeated delivery, or a user or event unknown here.
    applied: bool


class AppleNotificationsController(Controller):
    path = "/v1/auth/oauth/apple/notifications"
    tags = ["accounts"]

    @post(
        operation_id="appleServerNotification",
        status_code=200,
        summary="Apple's server-to-server notifications about users who signed in with Apple",
        description=__doc__,
        opt={PUBLIC: True},
        security=[{}],
        responses=problem_specs(401, 404, 503),
    )
    async def notify(
        self,
        data: JSONBody[AppleNotificationBody],
        services: NamedDependency[AppServices],
    ) -> Response[NotificationHandled]:
        provider_of(services, "apple")  # 404 unless this API offers Sign in with Apple
        # Not counted against the login limit: Apple's few servers send every user's notifications.
        notification = await checked("apple", services.id_tokens.verify_notification(data.payload))
        applied = await _handle(services, notification)
        event = notification.event
        log.info("apple_notification", kind=event.type, applied=applied)
        return Response(NotificationHandled(event=event.type, applied=applied))


async def _handle(services: AppServices, notification: AppleNotification) -> bool:
    """Apply the notification once; whether anything here changed."""
    event, now = notification.event, clock.now()
    known = event.type in _SIGN_OUT or (event.type in _EMAIL and event.email is not None)
    owner = await credentials_by_identity(services.pool, "apple", event.sub)
    if owner is None or not known:
        return False
    # Kept for as long as it would be believed (verify_notification refuses older ones).
    kept_until = (
        notification.issued_at + MAX_ID_TOKEN_LIFETIME + timedelta(seconds=services.settings.auth.leeway_s)
    )
    async with services.pool.acquire() as connection, connection.transaction():
        if not await claim_nonce(
            connection, "apple", f"notification:{notification.id}", expires_at=kept_until, now=now
        ):
            return False
        if event.type in _EMAIL:
            await link_identity(
                connection, owner.user_id, ProviderIdentity("apple", event.sub, event.email), now=now
            )
            return True
        await revoke_user_families(connection, owner.user_id, "provider_revoked", now, services.settings.auth)
        if event.type == "account-delete":
            try:
                async with connection.transaction():  # a savepoint: refusing leaves the rest standing
                    await unlink_identity(connection, owner.user_id, "apple")
            except Conflict:
                log.warning("apple_account_deleted_last_sign_in", user_id=str(owner.user_id))
    await services.sign_outs.announce(owner.user_id, now)
    return True
