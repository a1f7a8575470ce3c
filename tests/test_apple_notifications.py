"""Apple's server-to-server notifications: a revoked consent or a deleted Apple Account ends the linked
account's sessions, a relay address change follows; each notification is handled once, and only a
notification Apple signed for this app is believed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from core import clock
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem
from tests.identity_provider import CLIENT_IDS, ISSUERS, Provider, SigningKey, proof
from tests.test_oauth_sign_in import sign_in

NOTIFICATIONS = "/v1/auth/oauth/apple/notifications"


def notification(
    apple: Provider, kind: str, subject: str, key: SigningKey | None = None, **claims: Any
) -> str:
    """A notification as Apple signs it: the event a JSON text in the `events` claim."""
    body = {
        "type": kind,
        "sub": subject,
        "event_time": int(clock.timestamp() * 1000),
        **claims.pop("extra", {}),
    }
    payload = {
        "iss": ISSUERS["apple"],
        "aud": CLIENT_IDS["apple"][0],
        "iat": int(clock.timestamp()),
        "jti": uuid.uuid4().hex,
        "events": json.dumps(body),
        **claims,
    }
    return (key or apple.keys[0]).sign(payload)


async def notify(client: Any, payload: str) -> Any:
    return await client.post(NOTIFICATIONS, json={"payload": payload})


async def with_apple(client: Any, apple: Provider, subject: str, **claims: Any) -> dict[str, Any]:
    response = await sign_in(client, "apple", apple.token(sub=subject, **claims))
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_revoked_consent_ends_every_session_and_keeps_the_link(
    oauth_client: Any, apple: Provider
) -> None:
    subject = f"000{uuid.uuid4().hex}.0638"
    phone, tablet = (
        await with_apple(oauth_client, apple, subject),
        await with_apple(oauth_client, apple, subject),
    )
    assert phone["user"]["id"] == tablet["user"]["id"]

    revoked = notification(apple, "consent-revoked", subject)
    answered = await notify(oauth_client, revoked)

    assert answered.status_code == 200, answered.text
    assert answered.json() == {"event": "consent-revoked", "applied": True}
    assert_problem(await oauth_client.get("/v1/me", headers=bearer(phone)), 401)
    for session in (phone, tablet):
        refreshed = await oauth_client.post(
            "/v1/auth/refresh", json={"refreshToken": session["refreshToken"]}
        )
        assert_problem(refreshed, 401)
    # Delivered again later: handled once, so a session signed in since stays.
    again = await with_apple(oauth_client, apple, subject)
    assert again["user"]["id"] == phone["user"]["id"]  # the same account: the link stayed
    repeated = await notify(oauth_client, revoked)
    assert repeated.json() == {"event": "consent-revoked", "applied": False}
    assert (await oauth_client.get("/v1/me", headers=bearer(again))).status_code == 200


async def test_a_deleted_apple_account_is_unlinked_where_another_way_in_remains(
    oauth_client: Any, apple: Provider
) -> None:
    account = await sign_up(oauth_client)
    subject = f"000{uuid.uuid4().hex}.0638"
    linked = await oauth_client.post(
        "/v1/me/identities/apple", json=proof(apple.token(sub=subject)), headers=bearer(account)
    )
    assert linked.status_code == 201, linked.text
    only_apple_subject = f"000{uuid.uuid4().hex}.0638"
    only_apple = await with_apple(oauth_client, apple, only_apple_subject)

    for subject_deleted in (subject, only_apple_subject):
        answered = await notify(oauth_client, notification(apple, "account-delete", subject_deleted))
        assert answered.json() == {"event": "account-delete", "applied": True}

    assert_problem(await oauth_client.get("/v1/me", headers=bearer(account)), 401)
    login = await oauth_client.post(
        "/v1/auth/login", json={"email": account["sent"]["email"], "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    identities = (await oauth_client.get("/v1/me/identities", headers=bearer(login.json()))).json()
    assert identities["items"] == [] and identities["hasPassword"] is True
    # The account that had no other way in keeps its link (an operator may erase it); its sessions ended.
    assert_problem(await oauth_client.get("/v1/me", headers=bearer(only_apple)), 401)
    assert (await with_apple(oauth_client, apple, only_apple_subject))["user"]["id"] == only_apple["user"][
        "id"
    ]


async def test_a_relay_address_change_follows_and_unknown_users_or_events_change_nothing(
    oauth_client: Any, apple: Provider
) -> None:
    subject = f"000{uuid.uuid4().hex}.0638"
    account = await with_apple(oauth_client, apple, subject, email="first@privaterelay.appleid.com")
    moved = "second@privaterelay.appleid.com"

    enabled = notification(
        apple, "email-enabled", subject, extra={"email": moved, "is_private_email": "true"}
    )
    assert (await notify(oauth_client, enabled)).json() == {"event": "email-enabled", "applied": True}
    identities = (await oauth_client.get("/v1/me/identities", headers=bearer(account))).json()["items"]
    assert [item["email"] for item in identities] == [moved]
    assert (await oauth_client.get("/v1/me", headers=bearer(account))).status_code == 200  # still signed in

    stranger = await notify(oauth_client, notification(apple, "consent-revoked", "000nobody.0001"))
    unknown = await notify(oauth_client, notification(apple, "a-new-kind-of-event", subject))
    assert stranger.json() == {"event": "consent-revoked", "applied": False}
    assert unknown.json() == {"event": "a-new-kind-of-event", "applied": False}
    assert (await oauth_client.get("/v1/me", headers=bearer(account))).status_code == 200


async def test_only_a_notification_apple_signed_for_this_app_is_believed(
    oauth_client: Any, apple: Provider, client: Any
) -> None:
    subject = f"000{uuid.uuid4().hex}.0638"
    account = await with_apple(oauth_client, apple, subject)
    now = int(clock.timestamp())
    refused = {
        "another key": (
            notification(apple, "consent-revoked", subject, key=SigningKey("RS256")),
            "signed with a key",
        ),
        "another app": (notification(apple, "consent-revoked", subject, aud="another.app"), "another app"),
        "another issuer": (
            notification(apple, "consent-revoked", subject, iss="https://evil.example"),
            "not issued",
        ),
        "too old": (notification(apple, "consent-revoked", subject, iat=now - 2 * 86_400), "too old"),
        "from the future": (notification(apple, "consent-revoked", subject, iat=now + 3600), "not valid yet"),
        "events not JSON": (notification(apple, "consent-revoked", subject, events="{"), "malformed"),
        "not a JWT": ("not.a.jwt", "not a JWT"),
    }
    for case, (payload, words) in refused.items():
        problem = assert_problem(await notify(oauth_client, payload), 401)
        assert words in problem["detail"], (case, problem["detail"])
    assert_problem(await oauth_client.post(NOTIFICATIONS, json={}), 422)
    assert (await oauth_client.get("/v1/me", headers=bearer(account))).status_code == 200
    # Where Sign in with Apple is not offered, there is no such endpoint.
    assert_problem(await notify(client, notification(apple, "consent-revoked", subject)), 404)
