"""Advisory lock keys shared by the write and read sides."""

from __future__ import annotations

import uuid


def projection_lock_key(user_id: uuid.UUID) -> int:
    """The advisory lock that serialises everything that writes one user's read models."""
    return int.from_bytes(user_id.bytes[:8], "big", signed=True)
