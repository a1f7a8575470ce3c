"""Signing in with an Apple or Google ID token: a new identity makes an account, a known one signs in to
its own, an email never takes over an account, and every bad token is a 401 problem saying why."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from core import clock
from core.settings import Settings
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem
from tests.identity_provider import (
    CLIENT_IDS,
    Provider,
    SigningKey,
    apple_nonce,
    hs256_with_public_key,
    id_claims,
    proof,
    unsigned_token,
    with_providers,
)
from tests.test_rate_limits import with_limits


async def sign_in(client: Any, provider: str, token: str, **body: Any) -> Any:
    return await client.post(f"/v1/auth/oauth/{provider}", json={**proof(token), **body})


async def test_a_first_sign_in_creates_an_account_without_a_password(
    oauth_client: Any, apple: Provider
) -> None:
    relay = f"{uuid.uuid4().hex[:10]}@privaterelay.appleid.com"
    nonce = "n-" + uuid.uuid4().hex
    subject = f"000{uuid.uuid4().hex}.0638"
    token = apple.token(sub=subject, email=relay, email_verified="true", nonce=apple_nonce(nonce))

    created = await sign_in(oauth_client, "apple", token, nonce=nonce, displayName="Sam  Lifts")

    assert created.status_code == 201, created.text
    assert int(created.headers["x-consistency-token"]) >= 1
    body = created.json()
    assert body["tokenType"] == "Bearer" and body["refreshToken"] and body["accessToken"]
    user = body["user"]
    assert user["email"] == relay  # the relay address, as Apple gave it
    assert user["displayName"] == "Sam Lifts"  # Apple sends the name once: taken then
    assert user["handle"].startswith("sam_lifts")
    me = await oauth_client.get("/v1/me", headers=bearer(body))
    assert me.json()["id"] == user["id"]
    identities = (await oauth_client.get("/v1/me/identities", headers=bearer(body))).json()
    assert identities["hasPassword"] is False
    assert [(i["provider"], i["subject"], i["email"]) for i in identities["items"]] == [
        ("apple", subject, relay)
    ]

    again = await sign_in(oauth_client, "apple", apple.token(sub=subject, email=None), displayName="Other")

    assert again.status_code == 200, again.text
    assert again.json()["user"] == user  # the same account; a later name changes nothing
    assert "x-consistency-token" not in again.headers
    # A token without an email keeps the one known; a token with another one replaces it.
    listed = (await oauth_client.get("/v1/me/identities", headers=bearer(body))).json()["items"]
    assert [i["email"] for i in listed] == [relay]
    moved = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    later = await sign_in(oauth_client, "apple", apple.token(sub=subject, email=moved))
    assert later.status_code == 200, later.text
    listed = (await oauth_client.get("/v1/me/identities", headers=bearer(body))).json()["items"]
    assert [(i["provider"], i["subject"], i["email"]) for i in listed] == [("apple", subject, moved)]


async def test_the_generated_handle_is_unique_and_changeable(oauth_client: Any, google: Provider) -> None:
    name = "Kim " + uuid.uuid4().hex[:8]
    first = await sign_in(oauth_client, "google", google.token(name=name))
    second = await sign_in(oauth_client, "google", google.token(name=name))

    assert first.status_code == second.status_code == 201, second.text
    handles = {first.json()["user"]["handle"], second.json()["user"]["handle"]}
    assert len(handles) == 2 and all(handle.startswith("kim_") for handle in handles)
    assert first.json()["user"]["displayName"] == name  # Google's `name` claim
    wanted = "kim_" + uuid.uuid4().hex[:8]
    renamed = await oauth_client.patch("/v1/me", json={"handle": wanted}, headers=bearer(first.json()))
    assert renamed.status_code == 200 and renamed.json()["handle"] == wanted


async def test_google_issues_under_both_spellings_of_its_issuer_for_every_client_id(
    oauth_client: Any, google: Provider
) -> None:
    for issuer in ("https://accounts.google.com", "accounts.google.com"):
        for audience in (*CLIENT_IDS["google"], [CLIENT_IDS["google"][1], "someone-else"]):
            response = await sign_in(oauth_client, "google", google.token(iss=issuer, aud=audience))
            assert response.status_code == 201, (issuer, audience, response.text)


def _refused_tokens() -> dict[str, tuple[Callable[[Provider], str], str]]:
    """Tokens each refused for one reason, and the words of the problem that says so."""
    now = int(clock.timestamp())

    def claims(provider: Provider, **overrides: Any) -> dict[str, Any]:
        return id_claims(provider.name, **overrides)

    return {
        "wrong audience": (lambda p: p.token(aud="another.app"), "another app (aud)"),
        "wrong issuer": (lambda p: p.token(iss="https://evil.example"), "not issued by"),
        "expired": (lambda p: p.token(iat=now - 3600, exp=now - 60), "has expired"),
        "not yet valid": (lambda p: p.token(iat=now + 300, exp=now + 900), "not valid yet"),
        "not before": (lambda p: p.token(nbf=now + 300), "not valid yet"),
        "alg none": (
            lambda p: unsigned_token(claims(p), p.keys[0].kid),
            "must be signed with RS256 or ES256",
        ),
        "HS256 with the public key": (
            lambda p: hs256_with_public_key(claims(p), p.keys[0]),
            "must be signed with RS256 or ES256",
        ),
        "signed by another key under a published kid": (
            lambda p: SigningKey("RS256", kid=p.keys[0].kid).sign(claims(p)),
            "signature does not verify",
        ),
        "no subject": (lambda p: p.token(sub=None), "no sub claim"),
        "no nonce": (lambda p: p.token(nonce=None), "carries no nonce"),
        "not a JWT": (lambda p: "not.a.jwt", "not a JWT"),
    }


@pytest.mark.parametrize("case", sorted(_refused_tokens()))
@pytest.mark.parametrize("provider_name", ["apple", "google"])
async def test_a_bad_id_token_is_a_401_problem_saying_why(
    oauth_client: Any, apple: Provider, google: Provider, case: str, provider_name: str
) -> None:
    provider = apple if provider_name == "apple" else google
    make, words = _refused_tokens()[case]

    response = await sign_in(oauth_client, provider_name, make(provider))

    assert words in assert_problem(response, 401)["detail"]


async def test_an_unknown_key_id_is_refused_after_one_refetch(
    oauth_client: Any, google: Provider, travel: Any
) -> None:
    assert (await sign_in(oauth_client, "google", google.token())).status_code == 201
    travel(clock.now() + timedelta(seconds=61))  # the keys were fetched over a minute ago
    fetched = google.fetches

    response = await sign_in(oauth_client, "google", google.token(SigningKey("ES256")))

    assert "key Google does not publish" in assert_problem(response, 401)["detail"]
    assert google.fetches == fetched + 1


async def test_a_token_signed_with_a_key_rotated_away_is_refused(
    oauth_client: Any, apple: Provider, travel: Any
) -> None:
    old, new = apple.keys[0], SigningKey("ES256")
    apple.publish([old, new], "max-age=300")
    subject = "rotating-" + uuid.uuid4().hex
    assert (await sign_in(oauth_client, "apple", apple.token(old, sub=subject))).status_code == 201
    apple.publish([new], "max-age=300")
    travel(clock.now() + timedelta(seconds=301))

    refused = await sign_in(oauth_client, "apple", apple.token(old, sub=subject))

    assert "does not publish" in assert_problem(refused, 401)["detail"]
    assert (await sign_in(oauth_client, "apple", apple.token(new, sub=subject))).status_code == 200


async def test_a_nonce_signs_in_once(oauth_client: Any, google: Provider) -> None:
    claims = id_claims("google")
    sent = "n-" + uuid.uuid4().hex
    token = google.keys[0].sign({**claims, "nonce": sent})
    assert (await sign_in(oauth_client, "google", token, nonce=sent)).status_code == 201

    replayed = await sign_in(oauth_client, "google", token, nonce=sent)
    another_token = google.keys[0].sign({**claims, "nonce": sent, "iat": claims["iat"] + 1})
    reused = await sign_in(oauth_client, "google", another_token, nonce=sent)

    assert "nonce has been used already" in assert_problem(replayed, 401)["detail"]
    assert "nonce has been used already" in assert_problem(reused, 401)["detail"]


async def test_a_verified_email_of_a_password_account_links_only_with_its_password(
    oauth_client: Any, google: Provider
) -> None:
    registered = await sign_up(oauth_client)
    email = registered["sent"]["email"]
    nonce = "n-" + uuid.uuid4().hex
    token = google.token(email=email.upper(), nonce=nonce)

    asked = await sign_in(oauth_client, "google", token, nonce=nonce)
    wrong = await sign_in(oauth_client, "google", token, nonce=nonce, password="not-the-password")

    problem = assert_problem(asked, 409)
    assert problem["type"] == "urn:ironlog:problem:link-required"
    assert problem["errors"][0]["field"] == "password"
    assert assert_problem(wrong, 401)["detail"] == "The password is not correct."
    identities = await oauth_client.get("/v1/me/identities", headers=bearer(registered))
    assert identities.json()["items"] == []  # nothing linked silently

    linked = await sign_in(oauth_client, "google", token, nonce=nonce, password=PASSWORD)  # nonce unspent

    assert linked.status_code == 200, linked.text
    assert linked.json()["user"]["id"] == registered["user"]["id"]
    identities = await oauth_client.get("/v1/me/identities", headers=bearer(registered))
    assert [item["provider"] for item in identities.json()["items"]] == ["google"]
    assert identities.json()["hasPassword"] is True
    later = await sign_in(oauth_client, "google", google.token(sub=token_subject(token), email=email))
    assert later.json()["user"]["id"] == registered["user"]["id"]  # no password needed once linked
    login = await oauth_client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


async def test_the_email_of_an_account_without_a_password_is_linked_from_that_account(
    oauth_client: Any, apple: Provider, google: Provider
) -> None:
    email = f"both-{uuid.uuid4().hex[:8]}@example.com"
    first = await sign_in(oauth_client, "apple", apple.token(email=email))
    assert first.status_code == 201

    other = await sign_in(oauth_client, "google", google.token(email=email), password=PASSWORD)

    problem = assert_problem(other, 409)
    assert problem["type"] == "urn:ironlog:problem:link-required"
    assert "/v1/me/identities/google" in problem["detail"]


@pytest.mark.parametrize(
    "overrides", [{"email_verified": False}, {"email_verified": "false"}, {"email": None}]
)
async def test_without_a_verified_email_no_account_is_made_or_linked(
    oauth_client: Any, google: Provider, overrides: dict[str, Any]
) -> None:
    registered = await sign_up(oauth_client)
    token = google.token(**{"email": registered["sent"]["email"], **overrides})

    response = await sign_in(oauth_client, "google", token, password=PASSWORD)

    assert "no verified email" in assert_problem(response, 403)["detail"]
    assert (await oauth_client.get("/v1/me/identities", headers=bearer(registered))).json()["items"] == []


async def test_a_provider_not_offered_is_not_found(
    settings: Settings, apple: Provider, google: Provider
) -> None:
    offered = with_providers(settings, apple, google)
    only_apple = msgspec.structs.replace(
        offered, oauth=msgspec.structs.replace(offered.oauth, enabled=("apple",))
    )
    async with AsyncTestClient(app=create_app(only_apple)) as client:
        assert_problem(await sign_in(client, "google", google.token()), 404)
        assert_problem(await sign_in(client, "facebook", google.token()), 404)
        assert (await sign_in(client, "apple", apple.token())).status_code == 201


async def test_keys_that_cannot_be_fetched_are_a_503_to_retry(oauth_client: Any, google: Provider) -> None:
    google.server.fail(google.path)

    response = await sign_in(oauth_client, "google", google.token())

    problem = assert_problem(response, 503)
    assert 1 <= problem["retryAfter"] <= 60 and response.headers["retry-after"] == str(problem["retryAfter"])


async def test_sign_ins_count_against_the_login_limit(
    settings: Settings, apple: Provider, google: Provider
) -> None:
    limited = with_limits(with_providers(settings, apple, google), login_per_minute=3)
    async with AsyncTestClient(app=create_app(limited)) as client:
        for _ in range(2):
            await client.post(
                "/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"}
            )
        assert (await sign_in(client, "google", google.token())).status_code == 201

        over = await sign_in(client, "apple", apple.token())

    assert_problem(over, 429)
    assert apple.fetches == 0  # refused before any key is fetched


def token_subject(token: str) -> str:
    subject: str = jwt.decode(token, options={"verify_signature": False})["sub"]
    return subject
