"""ID tokens checked against the provider's keys, fetched over HTTPS and kept as Cache-Control says,
refetched once for an unknown key id and at most once a minute; claims read leniently, nonces strictly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.auth.idtokens import IdTokenVerifier, InvalidIdToken, VerifiedIdToken, open_key_client
from api.auth.jwks import KeysUnavailable, freshness_s, signing_keys
from core import clock
from core.settings import AuthSettings, OAuthSettings, Settings
from tests.identity_provider import Provider, SigningKey, apple_nonce, nonce_of, with_providers


@pytest.fixture
async def http(key_server: Any) -> AsyncIterator[httpx.AsyncClient]:
    client = open_key_client(OAuthSettings(ca_file=str(key_server.ca_file)))
    yield client
    await client.aclose()


def verifier_of(
    settings: Settings, apple: Provider, google: Provider, http: httpx.AsyncClient, **oauth: Any
) -> IdTokenVerifier:
    return IdTokenVerifier(with_providers(settings, apple, google, **oauth).oauth, AuthSettings(), http)


@pytest.fixture
def verifier(
    settings: Settings, apple: Provider, google: Provider, http: httpx.AsyncClient
) -> IdTokenVerifier:
    return verifier_of(settings, apple, google, http)


async def checked(verifier: IdTokenVerifier, provider: Provider, token: str) -> VerifiedIdToken:
    """`token` checked as the app sends it: with the nonce it was issued for."""
    return await verifier.verify(provider.name, token, nonce_of(token))


def later(seconds: float) -> Any:
    return clock.now() + timedelta(seconds=seconds)


async def test_keys_are_fetched_once_while_their_cache_control_keeps_them_fresh(
    verifier: IdTokenVerifier, google: Provider, travel: Any
) -> None:
    google.publish(google.keys, "public, max-age=300, must-revalidate")
    for _ in range(3):
        await checked(verifier, google, google.token())
    assert google.fetches == 1

    travel(later(301))
    await checked(verifier, google, google.token())

    assert google.fetches == 2


async def test_keys_that_may_not_be_cached_are_fetched_at_most_once_a_minute(
    verifier: IdTokenVerifier, apple: Provider, travel: Any
) -> None:
    apple.publish(apple.keys, "no-store")
    await checked(verifier, apple, apple.token())
    travel(later(30))
    await checked(verifier, apple, apple.token())
    assert apple.fetches == 1

    travel(later(31))
    await checked(verifier, apple, apple.token())

    assert apple.fetches == 2


async def test_an_unknown_key_id_refetches_once_then_is_refused_until_a_minute_has_passed(
    verifier: IdTokenVerifier, google: Provider, travel: Any
) -> None:
    await checked(verifier, google, google.token())
    travel(later(61))
    stranger = SigningKey("RS256")

    with pytest.raises(InvalidIdToken, match="key Google does not publish"):
        await checked(verifier, google, google.token(stranger))
    assert google.fetches == 2  # one refetch for the unknown kid
    for _ in range(3):
        with pytest.raises(InvalidIdToken, match="does not publish"):
            await checked(verifier, google, google.token(stranger))
    assert google.fetches == 2  # made-up key ids make no more fetches within the minute

    google.publish([*google.keys, stranger])
    travel(later(61))
    await checked(verifier, google, google.token(stranger))  # a key brought in by rotation
    assert google.fetches == 3


async def test_a_key_rotated_away_is_refused_once_the_copy_holding_it_expires(
    verifier: IdTokenVerifier, apple: Provider, travel: Any
) -> None:
    old, new = apple.keys[0], SigningKey("ES256")
    apple.publish([old, new], "max-age=600")
    await checked(verifier, apple, apple.token(old))

    apple.publish([new], "max-age=600")
    travel(later(601))

    with pytest.raises(InvalidIdToken, match="does not publish"):
        await checked(verifier, apple, apple.token(old))
    await checked(verifier, apple, apple.token(new))


async def test_keys_that_cannot_be_fetched_are_unavailable_and_a_stale_copy_serves_meanwhile(
    verifier: IdTokenVerifier, google: Provider, travel: Any
) -> None:
    google.server.fail(google.path)
    with pytest.raises(KeysUnavailable) as unavailable:
        await checked(verifier, google, google.token())
    assert 1 <= unavailable.value.retry_after_s <= 60
    google.publish(google.keys, "max-age=60")
    with pytest.raises(KeysUnavailable):  # the failure counts: no fetch again within the minute
        await checked(verifier, google, google.token())
    assert google.fetches == 1

    travel(later(61))
    await checked(verifier, google, google.token())
    google.server.fail(google.path)
    travel(later(120))

    await checked(verifier, google, google.token())  # expired copy, failed refetch: still served
    assert google.fetches == 3


async def test_the_key_server_certificate_is_verified(
    settings: Settings, apple: Provider, google: Provider
) -> None:
    untrusting = open_key_client(OAuthSettings())  # the system's authorities: not our self-signed one
    try:
        verifier = IdTokenVerifier(with_providers(settings, apple, google).oauth, AuthSettings(), untrusting)
        with pytest.raises(KeysUnavailable):
            await checked(verifier, apple, apple.token())
    finally:
        await untrusting.aclose()
    assert apple.fetches == 0  # no request got through the TLS handshake


async def test_es256_tokens_verify_and_claims_are_read_leniently(
    verifier: IdTokenVerifier, apple: Provider
) -> None:
    key = SigningKey("ES256")
    apple.publish([key])
    now = int(clock.timestamp())
    token = apple.token(key, email_verified="true", is_private_email="true", iat=str(now), exp=str(now + 60))

    verified = await checked(verifier, apple, token)

    assert verified.email_verified is True
    assert verified.expires_at.timestamp() == now + 60


@pytest.mark.parametrize("verified", ["false", False])
async def test_an_email_not_verified_is_read_as_such(
    verifier: IdTokenVerifier, google: Provider, verified: Any
) -> None:
    assert (await checked(verifier, google, google.token(email_verified=verified))).email_verified is False


async def test_apples_nonce_claim_is_the_sha256_of_the_nonce_sent(
    verifier: IdTokenVerifier, apple: Provider
) -> None:
    token = apple.token(nonce=apple_nonce("n-0123456789"))
    assert (await verifier.verify("apple", token, "n-0123456789")).nonce == apple_nonce("n-0123456789")
    with pytest.raises(InvalidIdToken, match="nonce is not the one"):
        await verifier.verify("apple", token, "n-other")
    with pytest.raises(InvalidIdToken, match="nonce is not the one"):  # the raw nonce is not Apple's claim
        await verifier.verify("apple", apple.token(nonce="n-0123456789"), "n-0123456789")


async def test_googles_nonce_claim_is_the_nonce_itself(verifier: IdTokenVerifier, google: Provider) -> None:
    assert (await verifier.verify("google", google.token(nonce="n-42"), "n-42")).nonce == "n-42"
    with pytest.raises(InvalidIdToken, match="nonce is not the one"):
        await verifier.verify("google", google.token(nonce=apple_nonce("n-42")), "n-42")


async def test_a_nonce_is_needed_on_both_sides_or_neither(
    settings: Settings, apple: Provider, google: Provider, http: httpx.AsyncClient
) -> None:
    for required, without_claim in ((True, "carries no nonce"), (False, "nonce is not the one")):
        verifier = verifier_of(settings, apple, google, http, require_nonce=required)
        with pytest.raises(InvalidIdToken, match="issued for a nonce"):
            await verifier.verify("google", google.token(nonce="n-1"), None)
        with pytest.raises(InvalidIdToken, match=without_claim):
            await verifier.verify("google", google.token(nonce=None), "n-1")


async def test_a_token_without_a_nonce_is_refused_unless_the_settings_allow_it(
    settings: Settings, apple: Provider, google: Provider, http: httpx.AsyncClient
) -> None:
    for provider in (apple, google):
        with pytest.raises(InvalidIdToken, match="carries no nonce"):
            await verifier_of(settings, apple, google, http).verify(
                provider.name, provider.token(nonce=None), None
            )
        lenient = verifier_of(settings, apple, google, http, require_nonce=False)
        assert (await lenient.verify(provider.name, provider.token(nonce=None), None)).nonce is None


async def test_a_token_valid_for_more_than_a_day_is_refused(
    verifier: IdTokenVerifier, google: Provider
) -> None:
    now = int(clock.timestamp())  # issued at this second, whichever second the tokens are signed in
    await checked(verifier, google, google.token(iat=now, exp=now + 86_400))
    with pytest.raises(InvalidIdToken, match="too long"):
        await checked(verifier, google, google.token(iat=now, exp=now + 86_401))


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"cache-control": "public, max-age=21600, must-revalidate"}, 21600),
        ({"cache-control": "max-age=600", "age": "100"}, 500),
        ({"cache-control": "max-age=60", "age": "600"}, 0),
        ({"cache-control": "no-cache, max-age=600"}, 0),
        ({"cache-control": "private"}, 0),
        ({}, 0),
    ],
)
def test_freshness_is_max_age_less_age(headers: dict[str, str], seconds: float) -> None:
    assert freshness_s(headers) == seconds


def test_only_rs256_and_es256_signature_keys_are_taken() -> None:
    rsa, ec = SigningKey("RS256", kid="rsa"), SigningKey("ES256", kid="ec")
    document = {
        "keys": [
            rsa.jwk,
            ec.jwk,
            {**SigningKey("RS256").jwk, "kid": "encryption", "use": "enc"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "??", "e": "AQAB"},
            {**SigningKey("RS256").jwk, "kid": 7},
            "not a key",
        ]
    }
    assert sorted(signing_keys(document)) == ["ec", "rsa"]
    assert signing_keys({"keys": "nope"}) == {} == signing_keys([])
