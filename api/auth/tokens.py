"""Access tokens: short-lived HS256 JWTs with every registered claim required and checked."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime

import jwt
import msgspec

from commands.accounts import ROLES, Role
from commands.sessions import IssuedTokens
from core.settings import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT "typ" of access tokens (RFC 9068)
_REQUIRED = ["exp", "iat", "nbf", "sub", "jti", "iss", "aud"]
#: Verified tokens remembered per process: a phone sends the same token for its whole life.
VERIFIED_CAPACITY = 20_000


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


class AccessTokens:
    """Mints and verifies access tokens for one configuration."""

    def __init__(self, settings: Settings) -> None:
        self._key = settings.jwt_secret.encode()
        self._auth = settings.auth
        #: token -> (its principal, not before, expiry), as Unix seconds: what a full check proved.
        self._verified: OrderedDict[str, tuple[Principal, int, int]] = OrderedDict()

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
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self._auth.access_ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})

    def expires_at(self, issued: IssuedTokens) -> datetime:
        return datetime.fromtimestamp(int(issued.issued_at.timestamp()) + self._auth.access_ttl_s, UTC)

    def verify(self, token: str) -> Principal:
        """The caller a token proves; InvalidToken for anything forged, expired or misdirected.

        A token verified before is not decoded again: its signature and claims cannot have changed,
        so only the times are checked again (the same leeway as the full check).
        """
        known = self._verified.get(token)
        if known is not None:
            principal, not_before, expires = known
            now = time.time()
            if now >= expires + self._auth.leeway_s:
                del self._verified[token]
                raise InvalidToken("ExpiredSignatureError")
            if now < not_before - self._auth.leeway_s:
                raise InvalidToken("ImmatureSignatureError")
            self._verified.move_to_end(token)
            return principal
        principal, not_before, expires = self._decode(token)
        self._verified[token] = (principal, not_before, expires)
        if len(self._verified) > VERIFIED_CAPACITY:
            self._verified.popitem(last=False)
        return principal

    def _decode(self, token: str) -> tuple[Principal, int, int]:
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
                options={"require": _REQUIRED, "strict_aud": True},
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
            return principal, int(claims["nbf"]), int(claims["exp"])
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        except (KeyError, ValueError, TypeError, AttributeError):
            raise InvalidToken("malformed claims") from None
