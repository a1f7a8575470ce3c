"""Base msgspec Structs for every request and response body."""

from __future__ import annotations

import msgspec


class RequestBody(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A JSON request body: camelCase keys, unknown fields rejected (422)."""


class ResponseBody(msgspec.Struct, rename="camel", omit_defaults=True):
    """A JSON response body: camelCase keys."""
