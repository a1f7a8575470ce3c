"""Access tokens: anything forged, expired, misdirected or of the wrong kind is a 401 problem.

Every forged token is built from a real one (decoded with the right key), with exactly one thing
changed, so a 401 can only come from that change. A rejected token also changes nothing: a PATCH
carrying it leaves the victim's profile as it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from api.auth.tokens import TOKEN_TYPE, AccessTokens, InvalidToken
from core import clock
from core.settings import Settings
from tests.accounts import access_headers, bearer, sign_up
from tests.harness import assert_problem

WRONG_KEY = b"not-the-configured-secret-but-long-enough-for-hs256"
HASHES = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}

Claims = dict[str, Any]
Header = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def forge(header: Header, claims: Claims, key: bytes | None) -> str:
    """A compact JWS of `header` and `claims`, signed as `header["alg"]` says (unsigned for none)."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    algorithm = header.get("alg", "none")
    if algorithm == "none" or key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), HASHES[algorithm]).digest()
    return f"{signing_input}.{_b64(signature)}"


class Genuine:
    """A real signed-in user and the parts of their access token, to forge variations from."""

    def __init__(self, settings: Settings, signed_in: dict[str, Any]) -> None:
        self.settings = settings
        self.signed_in = signed_in
        self.token: str = signed_in["accessToken"]
        self.key = settings.jwt_secret.encode()
        self.leeway_s = settings.auth.leeway_s

    def header(self) -> Header:
        return dict(jwt.get_unverified_header(self.token))

    def claims(self) -> Claims:
        decoded: Claims = jwt.decode(
            self.token,
            self.key,
            algorithms=["HS256"],
            audience=self.settings.auth.audience,
            issuer=self.settings.auth.issuer,
            # The token's times are the product's clock (core.clock), not the machine's PyJWT reads.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        return decoded

    def resigned(self, *, header: Header | None = None, claims: Claims | None = None) -> str:
        """The token with `header` and/or `claims` replaced, correctly signed with the right key."""
        return forge(header or self.header(), claims or self.claims(), self.key)


@pytest.fixture
async def genuine(client: Any, settings: Settings) -> Genuine:
    return Genuine(settings, await sign_up(client))


def _with(claims: Claims, **changes: Any) -> Claims:
    return {**claims, **changes}


def _without(claims: Claims, name: str) -> Claims:
    assert name in claims, f"the genuine token has no {name!r} to remove"
    return {key: value for key, value in claims.items() if key != name}


def _tampered(genuine: Genuine) -> str:
    """The genuine token's signature on a payload that now claims the admin role."""
    header_part, _, signature = genuine.token.split(".")
    payload = _segment(_with(genuine.claims(), role="admin"))
    return f"{header_part}.{payload}.{signature}"


def _now() -> int:
    return int(clock.timestamp())


# Each forgery, and why verification refuses it (the reason logged with the 401).
FORGERIES: dict[str, tuple[Callable[[Genuine], str], str]] = {
    "alg-none": (lambda g: forge(_with(g.header(), alg="none"), g.claims(), None), "InvalidAlgorithmError"),
    "alg-none-via-pyjwt": (
        lambda g: jwt.encode(g.claims(), None, algorithm="none", headers={"typ": TOKEN_TYPE}),
        "InvalidAlgorithmError",
    ),
    "wrong-key": (lambda g: forge(g.header(), g.claims(), WRONG_KEY), "InvalidSignatureError"),
    "hs512-with-right-key": (
        lambda g: g.resigned(header=_with(g.header(), alg="HS512")),
        "InvalidAlgorithmError",
    ),
    "tampered-payload": (_tampered, "InvalidSignatureError"),
    "expired-beyond-leeway": (
        lambda g: g.resigned(claims=_with(g.claims(), exp=_now() - g.leeway_s - 30)),
        "ExpiredSignatureError",
    ),
    "not-yet-valid-beyond-leeway": (
        lambda g: g.resigned(claims=_with(g.claims(), nbf=_now() + g.leeway_s + 30)),
        "ImmatureSignatureError",
    ),
    "issued-in-the-future-beyond-leeway": (
        lambda g: g.resigned(claims=_with(g.claims(), iat=_now() + g.leeway_s + 30)),
        "ImmatureSignatureError",
    ),
    "wrong-audience": (
        lambda g: g.resigned(claims=_with(g.claims(), aud="some-other-api")),
        "InvalidAudienceError",
    ),
    "audience-list-containing-ours": (
        lambda g: g.resigned(claims=_with(g.claims(), aud=[g.settings.auth.audience, "some-other-api"])),
        "InvalidAudienceError",
    ),
    "wrong-issuer": (
        lambda g: g.resigned(claims=_with(g.claims(), iss="someone-else")),
        "InvalidIssuerError",
    ),
    "unknown-role": (lambda g: g.resigned(claims=_with(g.claims(), role="superuser")), "unknown role"),
    "subject-not-a-uuid": (lambda g: g.resigned(claims=_with(g.claims(), sub="admin")), "malformed claims"),
    "no-typ-header": (lambda g: g.resigned(header={"alg": "HS256"}), "not an access token"),
    "typ-jwt": (lambda g: g.resigned(header=_with(g.header(), typ="JWT")), "not an access token"),
    "refresh-token": (lambda g: str(g.signed_in["refreshToken"]), "DecodeError"),
    "garbage": (lambda g: "this.is-not.a-jwt", "DecodeError"),
    "two-segments": (lambda g: g.token.rsplit(".", 1)[0], "DecodeError"),
}
# pyjwt enforces the registered claims; the code itself needs sid (a UUID) and a known role.
REQUIRED_CLAIMS = {
    **dict.fromkeys(["exp", "iat", "nbf", "sub", "jti", "iss", "aud"], "MissingRequiredClaimError"),
    "sid": "malformed claims",
    "role": "unknown role",
}


async def assert_rejected_without_effect(client: Any, genuine: Genuine, authorization: str | None) -> None:
    """GET /v1/me is a 401 problem with a Bearer challenge, and a PATCH with it changes nothing."""
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/v1/me", headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")

    attempt = await client.patch("/v1/me", json={"displayName": "Forged Name"}, headers=headers)
    assert attempt.status_code == 401, attempt.text[:500]
    profile = await client.get("/v1/me", headers=bearer(genuine.signed_in))
    assert profile.status_code == 200
    assert profile.json()["displayName"] == genuine.signed_in["sent"]["displayName"]


async def test_a_real_access_token_from_sign_up_works(client: Any, genuine: Genuine) -> None:
    response = await client.get("/v1/me", headers=bearer(genuine.signed_in))
    assert response.status_code == 200
    assert response.json()["email"] == genuine.signed_in["sent"]["email"]


async def test_a_token_resigned_with_the_right_key_and_nothing_changed_is_accepted(
    client: Any, genuine: Genuine
) -> None:
    # The control for every forgery below: the forging helper itself makes valid tokens.
    token = genuine.resigned()
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["id"] == genuine.signed_in["user"]["id"]


async def test_a_token_expired_within_the_leeway_is_accepted(client: Any, genuine: Genuine) -> None:
    assert genuine.leeway_s > 5
    token = genuine.resigned(claims=_with(genuine.claims(), exp=_now() - 5))
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text[:500]


@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
async def test_forged_or_invalid_access_token_is_401(client: Any, genuine: Genuine, forgery: str) -> None:
    token = FORGERIES[forgery][0](genuine)
    assert token != genuine.token
    await assert_rejected_without_effect(client, genuine, f"Bearer {token}")


@pytest.mark.parametrize("claim", list(REQUIRED_CLAIMS))
async def test_access_token_missing_a_required_claim_is_401(
    client: Any, genuine: Genuine, claim: str
) -> None:
    token = genuine.resigned(claims=_without(genuine.claims(), claim))
    await assert_rejected_without_effect(client, genuine, f"Bearer {token}")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer ", "Bearer", "Basic bGlmdGVyOnBsYXRlcy1hbmQtY2hhbGstNDI=", "Token abc"],
    ids=["no-header", "empty-bearer", "bare-scheme", "basic-scheme", "other-scheme"],
)
async def test_missing_or_non_bearer_authorization_is_401(
    client: Any, genuine: Genuine, authorization: str | None
) -> None:
    await assert_rejected_without_effect(client, genuine, authorization)


@pytest.mark.parametrize("forgery", list(FORGERIES), ids=list(FORGERIES))
async def test_each_forgery_is_refused_for_its_own_reason(genuine: Genuine, forgery: str) -> None:
    # Proof that each case differs from the genuine token in the one way it means to.
    make, reason = FORGERIES[forgery]
    with pytest.raises(InvalidToken) as refused:
        AccessTokens(genuine.settings).verify(make(genuine))
    assert str(refused.value) == reason


@pytest.mark.parametrize("claim", list(REQUIRED_CLAIMS))
async def test_each_missing_claim_is_refused_for_its_absence(genuine: Genuine, claim: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        AccessTokens(genuine.settings).verify(genuine.resigned(claims=_without(genuine.claims(), claim)))
    assert str(refused.value) == REQUIRED_CLAIMS[claim]


async def test_an_invalid_token_challenge_names_the_error(client: Any, genuine: Genuine) -> None:
    token = forge(genuine.header(), genuine.claims(), WRONG_KEY)
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_user_token_on_an_admin_route_is_403(client: Any, settings: Settings) -> None:
    response = await client.get("/v1/diagnostics/ping/x", headers=access_headers(settings, "user"))
    assert_problem(response, 403)


async def test_admin_token_passes_the_admin_guard(client: Any, settings: Settings) -> None:
    response = await client.get("/v1/diagnostics/ping/x", headers=access_headers(settings, "admin"))
    # No worker answered a ping named "x": past authentication and the guard, the route says 404.
    assert response.status_code == 404, response.text[:500]


def test_a_remembered_token_still_expires_and_still_waits_for_its_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verified tokens are remembered so they are not decoded on every request; their times are not."""
    tokens = AccessTokens(settings)
    leeway = settings.auth.leeway_s
    issued_at = int(clock.timestamp())
    claims = {
        "iss": settings.auth.issuer,
        "aud": settings.auth.audience,
        "sub": "5f2b1c9e-0d7a-4e43-a1b6-c0f9e8d7c6b5",
        "jti": "0d7a5f2b-1c9e-4e43-a1b6-c0f9e8d7c6b5",
        "sid": "a1b60d7a-1c9e-4e43-5f2b-c0f9e8d7c6b5",
        "role": "user",
        "iat": issued_at,
        "nbf": issued_at + 60,  # usable a minute from now
        "exp": issued_at + 120,
    }
    token = jwt.encode(claims, settings.jwt_secret.encode(), headers={"typ": TOKEN_TYPE})
    with pytest.raises(InvalidToken):  # not yet valid: refused, and not remembered
        tokens.verify(token)
    token = jwt.encode(
        {**claims, "nbf": issued_at}, settings.jwt_secret.encode(), headers={"typ": TOKEN_TYPE}
    )
    moments = [float(issued_at)]
    first = tokens.verify(token)  # decoded, then remembered
    monkeypatch.setattr("api.auth.tokens.clock.timestamp", lambda: moments[0])
    for moment, valid in (
        (issued_at + 119, True),
        (issued_at + 120 + leeway - 1, True),  # within the leeway, as PyJWT allows
        (issued_at - leeway + 1, True),
        (issued_at - leeway - 5, False),  # a clock gone back before nbf
        (issued_at + 120 + leeway + 1, False),
    ):
        moments[0] = moment
        if valid:
            assert tokens.verify(token) == first, moment
        else:
            with pytest.raises(InvalidToken):
                tokens.verify(token)
