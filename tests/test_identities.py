"""The identities an account signs in with: listed, linked, unlinked while another way to sign in stays;
accounts without a password refuse password sign-in clearly; disabled accounts sign in by no means."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from api.accounts_cli import disable_or_enable
from core.settings import Settings
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem
from tests.identity_provider import Provider, proof
from tests.test_oauth_sign_in import sign_in


async def signed_in_with(client: Any, provider: Provider, **claims: Any) -> dict[str, Any]:
    response = await sign_in(client, provider.name, provider.token(**claims))
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def providers_of(client: Any, signed_in: dict[str, Any]) -> list[str]:
    listed = await client.get("/v1/me/identities", headers=bearer(signed_in))
    assert listed.status_code == 200, listed.text
    return [item["provider"] for item in listed.json()["items"]]


async def test_a_signed_in_account_links_an_identity_once(
    oauth_client: Any, google: Provider, apple: Provider
) -> None:
    account = await sign_up(oauth_client)
    me = bearer(account)
    subject = "g-" + uuid.uuid4().hex
    token = google.token(sub=subject, email="another-address@example.com")

    linked = await oauth_client.post("/v1/me/identities/google", json=proof(token), headers=me)
    again = await oauth_client.post(
        "/v1/me/identities/google",
        json=proof(google.token(sub=subject, email="another-address@example.com")),
        headers=me,
    )

    assert linked.status_code == 201, linked.text
    assert linked.json()["subject"] == subject and linked.json()["email"] == "another-address@example.com"
    assert again.status_code == 201 and again.json() == linked.json()
    assert await providers_of(oauth_client, account) == ["google"]
    signed_in = await sign_in(oauth_client, "google", google.token(sub=subject))
    assert signed_in.json()["user"]["id"] == account["user"]["id"]
    another_google = google.token(sub="g-" + uuid.uuid4().hex)
    second = await oauth_client.post("/v1/me/identities/google", json=proof(another_google), headers=me)
    assert "unlink it first" in assert_problem(second, 409)["detail"]


async def test_an_identity_linked_to_one_account_is_not_linked_to_another(
    oauth_client: Any, apple: Provider
) -> None:
    owner = await signed_in_with(oauth_client, apple)
    subject = (await oauth_client.get("/v1/me/identities", headers=bearer(owner))).json()["items"][0][
        "subject"
    ]
    other = await sign_up(oauth_client)

    taken = await oauth_client.post(
        "/v1/me/identities/apple", json=proof(apple.token(sub=subject)), headers=bearer(other)
    )

    assert "linked to another Ironlog account" in assert_problem(taken, 409)["detail"]
    assert await providers_of(oauth_client, other) == []


async def test_linking_needs_a_valid_token_of_an_offered_provider(
    oauth_client: Any, google: Provider
) -> None:
    me = bearer(await sign_up(oauth_client))
    expired = google.token(exp=1, iat=0)
    refused = await oauth_client.post("/v1/me/identities/google", json=proof(expired), headers=me)
    unknown = await oauth_client.post("/v1/me/identities/github", json=proof(google.token()), headers=me)
    anonymous = await oauth_client.post("/v1/me/identities/google", json=proof(google.token()))

    assert "expired" in assert_problem(refused, 401)["detail"]
    assert_problem(unknown, 404)
    assert_problem(anonymous, 401)


async def test_the_last_way_to_sign_in_cannot_be_unlinked(
    oauth_client: Any, apple: Provider, google: Provider
) -> None:
    account = await signed_in_with(oauth_client, apple)
    me = bearer(account)

    last = await oauth_client.delete("/v1/me/identities/apple", headers=me)

    problem = assert_problem(last, 409)
    assert problem["type"] == "urn:ironlog:problem:last-sign-in"
    assert await providers_of(oauth_client, account) == ["apple"]
    google_token = google.token(email=None)
    linked = await oauth_client.post("/v1/me/identities/google", json=proof(google_token), headers=me)
    assert linked.status_code == 201, linked.text
    assert (await oauth_client.delete("/v1/me/identities/apple", headers=me)).status_code == 204
    assert (await oauth_client.delete("/v1/me/identities/apple", headers=me)).status_code == 204  # repeat
    assert await providers_of(oauth_client, account) == ["google"]
    assert_problem(await oauth_client.delete("/v1/me/identities/google", headers=me), 409)


async def test_an_account_with_a_password_unlinks_every_identity(oauth_client: Any, google: Provider) -> None:
    account = await sign_up(oauth_client)
    me = bearer(account)
    token = google.token()
    assert (
        await oauth_client.post("/v1/me/identities/google", json=proof(token), headers=me)
    ).status_code == 201

    assert (await oauth_client.delete("/v1/me/identities/google", headers=me)).status_code == 204

    assert await providers_of(oauth_client, account) == []
    login = {"email": account["sent"]["email"], "password": PASSWORD}
    assert (await oauth_client.post("/v1/auth/login", json=login)).status_code == 200


async def test_concurrent_unlinks_leave_one_way_to_sign_in(
    oauth_client: Any, apple: Provider, google: Provider
) -> None:
    account = await signed_in_with(oauth_client, apple)
    me = bearer(account)
    token = google.token()
    assert (
        await oauth_client.post("/v1/me/identities/google", json=proof(token), headers=me)
    ).status_code == 201

    answers = await asyncio.gather(
        oauth_client.delete("/v1/me/identities/apple", headers=me),
        oauth_client.delete("/v1/me/identities/google", headers=me),
    )

    assert sorted(answer.status_code for answer in answers) == [204, 409]
    assert len(await providers_of(oauth_client, account)) == 1


async def test_an_account_without_a_password_refuses_password_sign_in_and_change_clearly(
    oauth_client: Any, google: Provider
) -> None:
    email = f"social-{uuid.uuid4().hex[:8]}@example.com"
    account = await signed_in_with(oauth_client, google, email=email)

    login = await oauth_client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    change = await oauth_client.post(
        "/v1/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "a-new-password-42"},
        headers=bearer(account),
    )

    assert "has no password" in assert_problem(login, 401)["detail"]
    problem = assert_problem(change, 422)
    assert "has no password" in problem["detail"] and problem["errors"][0]["field"] == "identity"


async def test_an_account_without_a_password_sets_its_first_with_a_linked_identity(
    oauth_client: Any, google: Provider
) -> None:
    email = f"social-{uuid.uuid4().hex[:8]}@example.com"
    subject = "g-" + uuid.uuid4().hex
    account = await signed_in_with(oauth_client, google, sub=subject, email=email)
    other_device = await signed_in_with(oauth_client, google, sub=subject, email=email)
    me, first = bearer(account), "my-first-iron-password-8"

    def with_identity(token: str) -> dict[str, Any]:
        return {"newPassword": first, "identity": {"provider": "google", **proof(token)}}

    stranger = await oauth_client.post("/v1/me/password", json=with_identity(google.token()), headers=me)
    assert "not of an identity linked" in assert_problem(stranger, 403)["detail"]
    weak = {**with_identity(google.token(sub=subject)), "newPassword": "password"}
    assert_problem(await oauth_client.post("/v1/me/password", json=weak, headers=me), 422)
    done = await oauth_client.post(
        "/v1/me/password", json=with_identity(google.token(sub=subject, email=email)), headers=me
    )
    assert done.status_code == 204, done.text

    # As with any password change: every access token ends and the other sessions with them; this
    # session refreshes.
    assert_problem(await oauth_client.get("/v1/me", headers=me), 401)
    other = await oauth_client.post("/v1/auth/refresh", json={"refreshToken": other_device["refreshToken"]})
    assert_problem(other, 401)
    mine = await oauth_client.post("/v1/auth/refresh", json={"refreshToken": account["refreshToken"]})
    assert mine.status_code == 200, mine.text
    me = bearer(mine.json())
    listed = (await oauth_client.get("/v1/me/identities", headers=me)).json()
    assert listed["hasPassword"] is True
    login = await oauth_client.post("/v1/auth/login", json={"email": email, "password": first})
    assert login.status_code == 200, login.text
    assert login.json()["user"]["id"] == account["user"]["id"]
    # From now on a change takes the current password; an ID token no longer does.
    again = with_identity(google.token(sub=subject, email=email))
    refused = assert_problem(await oauth_client.post("/v1/me/password", json=again, headers=me), 422)
    assert refused["errors"][0]["field"] == "currentPassword"
    second = {"currentPassword": first, "newPassword": "my-second-iron-password-9"}
    changed = await oauth_client.post("/v1/me/password", json=second, headers=me)
    assert changed.status_code == 204, changed.text


async def test_a_disabled_account_signs_in_by_no_means_until_enabled(
    oauth_client: Any, settings: Settings, google: Provider
) -> None:
    account = await sign_up(oauth_client)
    email, me = account["sent"]["email"], bearer(account)
    subject = "g-" + uuid.uuid4().hex
    assert (
        await oauth_client.post("/v1/me/identities/google", json=proof(google.token(sub=subject)), headers=me)
    ).status_code == 201

    assert await disable_or_enable(settings, email=email, disabled=True) == uuid.UUID(account["user"]["id"])

    with_token = await sign_in(oauth_client, "google", google.token(sub=subject))
    with_password = await oauth_client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    refreshed = await oauth_client.post("/v1/auth/refresh", json={"refreshToken": account["refreshToken"]})
    assert assert_problem(with_token, 401)["detail"] == "This account is disabled."
    assert assert_problem(with_password, 401)["detail"] == "This account is disabled."
    assert_problem(refreshed, 401)  # its sessions ended with it
    for _ in range(50):  # its access tokens too, once the announcement is heard
        if (await oauth_client.get("/v1/me", headers=me)).status_code == 401:
            break
        await asyncio.sleep(0.1)
    assert_problem(await oauth_client.get("/v1/me", headers=me), 401)

    await disable_or_enable(settings, email=email, disabled=False)

    assert (await sign_in(oauth_client, "google", google.token(sub=subject))).status_code == 200
    assert await disable_or_enable(settings, email="nobody-" + email, disabled=True) is None
