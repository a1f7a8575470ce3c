"""Advisory lock keys shared by the write and read sides."""

from __future__ import annotations

import uuid


def projection_lock_key(user_id: uuid.UUID) -> int:
    """The advisory lock that serialises everything that writes one user's read models."""
    return int.from_bytes(user_id.bytes[:8], "big", signed=True)


#: Held shared by every projection transaction and exclusively by a rebuild's swap, so a swap
#: waits for running batches and pauses new ones only for the moment it takes.
REBUILD_GATE_KEY = 0x49524F4E4C4F47  # "IRONLOG"

#: Held (session level) by the one rebuild allowed at a time.
REBUILD_RUNNING_KEY = 0x49524F4E4C4F48
