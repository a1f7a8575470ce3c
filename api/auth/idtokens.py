"""Checking a provider's ID token: signature against its published keys, issuer, audience, times, nonce.

Claims are read leniently where the providers differ (Apple sends `email_verified` as the string
"true", times as numbers or strings), strictly where it matters: the algorithm is RS256 or ES256 and
the key's own (never `none`, never HS256 with a public key as the secret), and every time claim is
checked against the product's clock (core.clock) with the access tokens' leeway.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import msgspec

from api.auth.jwks import ALGORITHMS, KeySet
from commands.identities import MAX_ID_TOKEN_LIFETIME, ProviderIdentity
from core import clock
from core.settings import PROVIDERS, AuthSettings, OAuthSettings, Provider

#: Apple puts the SHA-256 (hex) of the app's nonce in the token; Google the nonce itself.
_HASHED_NONCE: dict[Provider, bool] = {"apple": True, "google": False}
_REQUIRED = ["iss", "aud", "sub", "exp", "iat"]


class InvalidIdToken(Exception):
    """The ID token is refused; the message says why, for the client (a 401 problem's detail)."""


class _Claims(msgspec.Struct):
    """The claims read from a verified token, in lax mode: "true" is a bool, "1700000000" a time."""

    sub: str
    exp: float
    iat: float
    nbf: float | None = None
    nonce: str | None = None
    email: str | None = None
    email_verified: bool = False
    name: str | None = None


class AppleEvent(msgspec.Struct, frozen=True):
    """One event of an Apple server-to-server notification (its `events` claim, a JSON text)."""

    type: str  # email-disabled, email-enabled, consent-revoked, account-delete
    sub: str
    email: str | None = None
    event_time: int | None = None


_EVENT_DECODER = msgspec.json.Decoder(AppleEvent, strict=False)


class _NotificationClaims(msgspec.Struct):
    iat: float
    jti: str
    events: str


class AppleNotification(msgspec.Struct, frozen=True):
    """A verified notification: its event, its id (each is handled once) and when Apple issued it."""

    event: AppleEvent
    id: str
    issued_at: datetime


class VerifiedIdToken(msgspec.Struct, frozen=True):
    """What a valid ID token proves."""

    identity: ProviderIdentity
    email_verified: bool
    name: str | None
    nonce: str | None  # the claim, as the token holds it
    issued_at: datetime
    expires_at: datetime


def open_key_client(settings: OAuthSettings) -> httpx.AsyncClient:
    """The HTTPS client that fetches key sets: certificates verified, against `ca_file` when set."""
    verify: ssl.SSLContext | bool = True
    if settings.ca_file is not None:
        verify = ssl.create_default_context(cafile=settings.ca_file)
    return httpx.AsyncClient(
        verify=verify,
        timeout=settings.jwks_timeout_s,
        follow_redirects=False,
        headers={"User-Agent": "ironlog"},
    )


class IdTokenVerifier:
    """Verifies ID tokens of the providers the settings offer; one key set per provider."""

    def __init__(self, settings: OAuthSettings, auth: AuthSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._leeway_s = auth.leeway_s
        self._key_sets = {name: KeySet(settings.provider(name).jwks_url, http) for name in PROVIDERS}

    def offers(self, provider: Provider) -> bool:
        return self._settings.offers(provider)

    async def verify(self, provider: Provider, token: str, nonce: str | None) -> VerifiedIdToken:
        """The identity `token` proves; InvalidIdToken saying why it is refused. The nonce the app sent
        must be the token's (Apple's: its SHA-256); a token without one is refused unless the settings
        allow it (`require_nonce`)."""
        payload = await self._decode(provider, token, _REQUIRED)
        try:
            claims = msgspec.convert(payload, _Claims, strict=False)
        except msgspec.ValidationError:
            raise InvalidIdToken("The ID token is malformed.") from None
        self._check_times(claims)
        self._check_nonce(provider, claims.nonce, nonce, required=self._settings.require_nonce)
        return VerifiedIdToken(
            identity=ProviderIdentity(provider, claims.sub, claims.email),
            email_verified=claims.email_verified,
            name=claims.name,
            nonce=claims.nonce,
            issued_at=datetime.fromtimestamp(claims.iat, UTC),
            expires_at=datetime.fromtimestamp(claims.exp, UTC),
        )

    async def verify_notification(self, token: str) -> AppleNotification:
        """What a server-to-server notification from Apple says (api/auth/apple_notifications.py), checked
        as an ID token is: Apple's keys, issuer and this app's client ids; issued at most a day ago."""
        payload = await self._decode("apple", token, ["iss", "aud", "iat", "jti", "events"])
        try:
            claims = msgspec.convert(payload, _NotificationClaims, strict=False)
            event = _EVENT_DECODER.decode(claims.events)
        except msgspec.DecodeError:  # the claims, or the events' JSON text (ValidationError is one too)
            raise InvalidIdToken("The notification is malformed.") from None
        now, leeway = clock.timestamp(), self._leeway_s
        if claims.iat > now + leeway:
            raise InvalidIdToken("The notification is not valid yet.")
        if claims.iat < now - MAX_ID_TOKEN_LIFETIME.total_seconds():
            raise InvalidIdToken("The notification is too old.")
        return AppleNotification(event, claims.jti, datetime.fromtimestamp(claims.iat, UTC))

    async def _decode(self, provider: Provider, token: str, required: list[str]) -> dict[str, Any]:
        """The claims of a JWT signed by the provider's published keys, for this app (`aud`), by the
        provider (`iss`), holding `required`; InvalidIdToken saying why it is refused."""
        name = provider.capitalize()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidIdToken("The ID token is not a JWT.") from None
        if header.get("alg") not in ALGORITHMS:
            raise InvalidIdToken(f"The ID token must be signed with {' or '.join(ALGORITHMS)}.")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidIdToken("The ID token names no signing key (kid).")
        key = await self._key_sets[provider].key(kid)
        if key is None:
            raise InvalidIdToken(f"The ID token is signed with a key {name} does not publish.")
        configured = self._settings.provider(provider)
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=list(configured.client_ids),
                issuer=configured.issuers,
                # The times are checked by the callers, against the product's clock, not the machine's.
                options={"require": required, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.InvalidAudienceError:
            raise InvalidIdToken("The ID token was issued for another app (aud).") from None
        except jwt.InvalidIssuerError:
            raise InvalidIdToken(f"The ID token was not issued by {name} (iss).") from None
        except jwt.InvalidSignatureError:
            raise InvalidIdToken("The ID token's signature does not verify.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidIdToken(f"The ID token has no {exc.claim} claim.") from None
        except jwt.PyJWTError:
            raise InvalidIdToken("The ID token is malformed.") from None
        return payload

    def _check_times(self, claims: _Claims) -> None:
        now, leeway = clock.timestamp(), self._leeway_s
        if now >= claims.exp + leeway:
            raise InvalidIdToken("The ID token has expired.")
        if claims.iat > now + leeway or (claims.nbf is not None and claims.nbf > now + leeway):
            raise InvalidIdToken("The ID token is not valid yet.")
        if claims.exp - claims.iat > MAX_ID_TOKEN_LIFETIME.total_seconds():
            raise InvalidIdToken("The ID token is valid for too long.")

    @staticmethod
    def _check_nonce(provider: Provider, claim: str | None, sent: str | None, *, required: bool) -> None:
        if claim is None and required:
            raise InvalidIdToken(
                "The ID token carries no nonce: sign in with one (the app makes it and sends it with the "
                "token), so that the token cannot be used again."
            )
        if sent is None:
            if claim is not None:
                raise InvalidIdToken("The ID token was issued for a nonce: send it.")
            return
        expected = hashlib.sha256(sent.encode()).hexdigest() if _HASHED_NONCE[provider] else sent
        if claim is None or not hmac.compare_digest(claim.encode(), expected.encode()):
            raise InvalidIdToken("The nonce is not the one the ID token was issued for.")
