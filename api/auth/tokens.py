"""Access tokens: short-lived HS256 JWTs with every registered claim required and checked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jwt
import msgspec

from commands.accounts import ROLES, Role
from commands.sessions import IssuedTokens
from core.settings import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT "typ" of access tokens (RFC 9068)
_REQUIRED = ["exp", "iat", "nbf", "sub", "jti", "iss", "aud"]


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
        """The caller a token proves; InvalidToken for anything forged, expired or misdirected."""
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
            return Principal(
                user_id=uuid.UUID(claims["sub"]),
                role=role,
                session_id=uuid.UUID(claims["sid"]),
                token_id=uuid.UUID(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from None
        except (KeyError, ValueError, TypeError, AttributeError):
            raise InvalidToken("malformed claims") from None
