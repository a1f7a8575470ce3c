"""Access tokens: short-lived HS256 JWTs with every registered claim required and checked."""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NamedTuple

import jwt
import msgspec

from commands.accounts import ROLES, Role
from commands.sessions import IssuedTokens, token_subject
from core import clock
from core.settings import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT "typ" of access tokens (RFC 9068)
_REQUIRED = ["exp", "iat", "nbf", "sub", "jti", "iss", "aud"]
#: Verified tokens remembered per process: a phone sends the same token for its whole life.
VERIFIED_CAPACITY = 20_000
_NEVER = -math.inf  # the "not before" of a user never signed out


class InvalidToken(Exception):
    """The bearer token is not a valid access token; the message says why (for logs only)."""


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: from a verified access token."""

    user_id: uuid.UUID
    role: Role
    session_id: uuid.UUID
    token_id: uuid.UUID
    #: The token's `exp`: long-lived responses, such as the event stream, end there.
    expires_at: datetime | None = None


class _Verified(NamedTuple):
    """What a full check of a token proved; times as Unix seconds."""

    principal: Principal
    usable_from: int
    expires: int
    issued_at: float  # to the millisecond
    subject: bytes  # the user, as their "not before" instant is known by (commands.sessions)


class AccessTokens:
    """Mints and verifies access tokens for one configuration.

    A token issued until its user's "not before" instant (commands/sessions.py) is refused. This
    process's copy of those instants is kept by `sign_out` and `signed_out` (api/auth/signouts.py),
    so the check is one dictionary look-up.
    """

    def __init__(self, settings: Settings) -> None:
        self._key = settings.jwt_secret.encode()
        self._auth = settings.auth
        #: token -> what a full check proved, least recently used first.
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        #: token subject -> the instant until which its tokens are refused (Unix seconds).
        self._not_before: dict[bytes, float] = {}

    @property
    def ttl_s(self) -> int:
        return self._auth.access_ttl_s

    def mint(self, issued: IssuedTokens) -> str:
        """The access token of a sign-in or refresh; the same `issued` always gives the same token."""
        issued_at = int(issued.issued_at.timestamp())
        claims = {
            "iss": self._auth.issuer,
            "aud": self._auth.audience,
            "sub": str(issued.user_id),
            "jti": str(issued.access_token_id),
            "sid": str(issued.family_id),
            "role": issued.role,
            # To the millisecond (RFC 7519 allows fractions): a token issued just after a sign-out
            # everywhere, in the same second, is not refused with those issued before it.
            "iat": math.floor(issued.issued_at.timestamp() * 1000) / 1000,
            "nbf": issued_at,
            "exp": issued_at + self._auth.access_ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})

    def expires_at(self, issued: IssuedTokens) -> datetime:
        return datetime.fromtimestamp(int(issued.issued_at.timestamp()) + self._auth.access_ttl_s, UTC)

    def verify(self, token: str) -> Principal:
        """The caller a token proves; InvalidToken for anything forged, expired or misdirected.

        A token verified before is not decoded again: its signature and claims cannot have changed,
        so only its times are checked, against the product's clock (core.clock), with the leeway.
        """
        known = self._verified.get(token)
        if known is None:
            known = self._decode(token)
            self._check(known)  # a token refused is not remembered
            self._verified[token] = known
            if len(self._verified) > VERIFIED_CAPACITY:
                self._verified.popitem(last=False)
            return known.principal
        try:
            self._check(known)
        except InvalidToken:
            del self._verified[token]
            raise
        self._verified.move_to_end(token)
        return known.principal

    def _check(self, verified: _Verified) -> None:
        now = clock.timestamp()
        if now >= verified.expires + self._auth.leeway_s:
            raise InvalidToken("ExpiredSignatureError")
        if now < verified.usable_from - self._auth.leeway_s:
            raise InvalidToken("ImmatureSignatureError")
        if verified.issued_at <= self._not_before.get(verified.subject, _NEVER):
            raise InvalidToken("signed out")

    def sign_out(self, subject: bytes, not_before: float) -> None:
        """Refuse the subject's tokens issued until `not_before`; an earlier instant changes nothing."""
        if not_before > self._not_before.get(subject, _NEVER):
            self._not_before[subject] = not_before

    def signed_out(self, not_before: Mapping[bytes, float], horizon: float) -> None:
        """Take the instants stored (announcements may have been missed), keeping any newer one heard
        meanwhile, and forget those before `horizon`: every token issued until then has expired."""
        kept = {subject: at for subject, at in self._not_before.items() if at >= horizon}
        for subject, at in not_before.items():
            kept[subject] = max(at, kept.get(subject, _NEVER))
        self._not_before = kept

    def _decode(self, token: str) -> _Verified:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != TOKEN_TYPE:
                raise InvalidToken("not an access token")
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._auth.audience,
                issuer=self._auth.issuer,
                leeway=self._auth.leeway_s,
                # The times are checked by `verify`, against the product's clock, not the machine's.
                options={
                    "require": _REQUIRED,
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            role = claims.get("role")
            if role not in ROLES:
                raise InvalidToken("unknown role")
            principal = Principal(
                user_id=uuid.UUID(claims["sub"]),
                role=role,
                session_id=uuid.UUID(claims["sid"]),
                token_id=uuid.UUID(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
            issued_at = float(claims["iat"])
            # Not usable before it says it was issued, nor before its nbf.
            usable_from = max(int(claims["nbf"]), int(issued_at))
            return _Verified(
                principal, usable_from, int(claims["exp"]), issued_at, token_subject(principal.user_id)
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        except (KeyError, ValueError, TypeError, AttributeError):
            raise InvalidToken("malformed claims") from None
