"""Opaque list cursors: a small JSON value, base64url-encoded; clients must not parse them."""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

import msgspec

from core.errors import InvalidInput

T = TypeVar("T")


def encode_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """The value inside `cursor`; InvalidInput (field `cursor`) when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=type_)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput("The cursor is not valid.", field="cursor") from None
