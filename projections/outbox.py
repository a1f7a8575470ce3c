"""The read-model keys a projection changed: the one record of what is stale.

The runner collects the keys its transaction changes and writes them to `projection_outbox` in that
same transaction. The Redis sync writes exactly the documents those keys name and, in the same
pipeline, announces them on `ch:changed:<user>` as `"<version> <key> <key> ..."` right before the
version alone on `ch:projected:<user>` (which streams and waiting reads hear). Each API process's
memory cache drops exactly the entries those keys name. A bare `"<version>"` (too many keys to list)
means every read model of the user changed, and so does a `ch:projected` announcement that no
`ch:changed` one came right before (an erasure, a rebuild, a worker of the previous release).

A key is `<family>` or `<family>:<id>`. A change of `records:squat` makes stale what shows
`records:squat` and what shows the whole family, `records` (the page listing every exercise's records).
"""

from __future__ import annotations

import uuid

#: The feed of workout summaries (every page of it).
FEED = "feed"
#: The dashboard.
DASHBOARD = "dashboard"
#: One workout's document: `workout:<id>`.
WORKOUT = "workout"
#: The handle and display name others see (on leaderboards).
PROFILE = "profile"
#: Lists: every exercise's records, the routines, the user's custom exercises, body weights, follows.
RECORDS = "records"
SESSIONS = "sessions"
ROUTINES = "routines"
EXERCISES = "exercises"
BODYWEIGHTS = "bodyweights"
FOLLOWS = "follows"

#: Past this many keys an announcement names none: every read model of the user is dropped instead.
MAX_ANNOUNCED_KEYS = 200


def workout(workout_id: uuid.UUID) -> str:
    """One workout's document."""
    return f"{WORKOUT}:{workout_id}"


def records(exercise_id: str) -> str:
    """One exercise's records."""
    return f"{RECORDS}:{exercise_id}"


def sessions(exercise_id: str) -> str:
    """One exercise's history of sessions, and its "last time"."""
    return f"{SESSIONS}:{exercise_id}"


def routine(routine_id: uuid.UUID) -> str:
    return f"{ROUTINES}:{routine_id}"


def custom_exercise(exercise_id: uuid.UUID) -> str:
    return f"{EXERCISES}:{exercise_id}"


def workout_of(key: str) -> uuid.UUID | None:
    """The workout a key names, or None."""
    family, _, rest = key.partition(":")
    return uuid.UUID(rest) if family == WORKOUT and rest else None


def stale(changed: str) -> tuple[str, str]:
    """What shows a key that changed: the key itself and its family's list."""
    return changed, changed.partition(":")[0]


def announcement(version: int, keys: set[str] | frozenset[str]) -> str:
    """The message that says the user's documents reached `version`, and which ones changed."""
    if not keys or len(keys) > MAX_ANNOUNCED_KEYS:
        return str(version) if len(keys) > MAX_ANNOUNCED_KEYS else f"{version} "
    return " ".join([str(version), *sorted(keys)])


def parse_announcement(data: bytes) -> tuple[int, frozenset[str] | None] | None:
    """(version, keys changed; None: all of them) from an announcement; None if it is not one."""
    version, space, rest = data.partition(b" ")
    try:
        number = int(version)
    except ValueError:
        return None
    if not space:
        return number, None
    return number, frozenset(part.decode() for part in rest.split())
