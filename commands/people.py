"""Body weight by day, and following other lifters: small commands on the event log."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

import asyncpg
import msgspec

from commands.events import BodyweightDeleted, BodyweightRecorded, Followed, Unfollowed, Weight
from commands.eventstore import append, lock_stream
from commands.workouts import EARLIEST_DAY
from core.errors import InvalidInput, NotFound
from core.units import as_entered, to_kg

MIN_BODYWEIGHT_KG = 20
MAX_BODYWEIGHT_KG = 400
#: The same bounds in pounds, rounded inwards to 0.1 lb, so that every value the schema allows is one of
#: 20-400 kg once converted.
MIN_BODYWEIGHT_LB = 44.1
MAX_BODYWEIGHT_LB = 881.8


class BodyweightKg(msgspec.Struct, tag_field="unit", tag="kg", forbid_unknown_fields=True, frozen=True):
    """A body weight in kilograms."""

    value: Annotated[float, msgspec.Meta(ge=MIN_BODYWEIGHT_KG, le=MAX_BODYWEIGHT_KG, examples=[82.5])]


class BodyweightLb(msgspec.Struct, tag_field="unit", tag="lb", forbid_unknown_fields=True, frozen=True):
    """A body weight in pounds."""

    value: Annotated[float, msgspec.Meta(ge=MIN_BODYWEIGHT_LB, le=MAX_BODYWEIGHT_LB, examples=[181.4])]


#: A body weight as sent: `{"value": 82.5, "unit": "kg"}`, each unit with its own bounds (20-400 kg).
Bodyweight = BodyweightKg | BodyweightLb


def as_weight(bodyweight: Bodyweight) -> Weight:
    """The body weight as the Weight events carry."""
    return Weight(value=bodyweight.value, unit="kg" if isinstance(bodyweight, BodyweightKg) else "lb")


MAX_FOLLOWS = 1000


async def put_bodyweight(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    day: date,
    weight: Weight,
    now: datetime,
    request_id: str | None,
) -> tuple[bool, int]:
    """Record the day's body weight (the last write wins); (changed, stream version)."""
    kg = to_kg(weight.value, weight.unit)
    if not MIN_BODYWEIGHT_KG <= kg <= MAX_BODYWEIGHT_KG:
        raise InvalidInput(
            f"A body weight is between {MIN_BODYWEIGHT_KG} and {MAX_BODYWEIGHT_KG} kg.", field="weight.value"
        )
    if day < EARLIEST_DAY:
        raise InvalidInput(f"A body weight is recorded from {EARLIEST_DAY} on.", field="date")
    if day > (now + timedelta(days=1)).date():
        raise InvalidInput("A body weight cannot be recorded for a future day.", field="date")
    stream_version = await lock_stream(connection, user_id)
    current = await connection.fetchrow(
        "SELECT weight_value, weight_unit FROM bodyweights WHERE user_id = $1 AND day = $2", user_id, day
    )
    if current is not None and (current["weight_value"], current["weight_unit"]) == (
        as_entered(weight.value),
        weight.unit,
    ):
        return False, stream_version
    await connection.execute(
        """
        INSERT INTO bodyweights (user_id, day, weight_value, weight_unit, weight_kg, recorded_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (user_id, day) DO UPDATE SET weight_value = EXCLUDED.weight_value,
            weight_unit = EXCLUDED.weight_unit, weight_kg = EXCLUDED.weight_kg,
            recorded_at = EXCLUDED.recorded_at
        """,
        user_id,
        day,
        as_entered(weight.value),
        weight.unit,
        kg,
        now,
    )
    event = BodyweightRecorded(day=day, weight=weight)
    return True, await append(connection, user_id, [event], occurred_at=now, request_id=request_id)


async def delete_bodyweight(
    connection: asyncpg.Connection, *, user_id: uuid.UUID, day: date, now: datetime, request_id: str | None
) -> tuple[bool, int]:
    """Forget the day's body weight; (changed, stream version). Deleting nothing is not an error."""
    stream_version = await lock_stream(connection, user_id)
    status = await connection.execute("DELETE FROM bodyweights WHERE user_id = $1 AND day = $2", user_id, day)
    if status.endswith(" 0"):
        return False, stream_version
    event = BodyweightDeleted(day=day)
    return True, await append(connection, user_id, [event], occurred_at=now, request_id=request_id)


async def follow(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    followee_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
) -> tuple[bool, int]:
    """Follow another user (idempotent); (changed, stream version). NotFound for no such user."""
    if followee_id == user_id:
        raise InvalidInput("You cannot follow yourself.", field="userId")
    stream_version = await lock_stream(connection, user_id)
    followee = await connection.fetchrow("SELECT handle, display_name FROM users WHERE id = $1", followee_id)
    if followee is None:
        raise NotFound("No such user.")
    inserted = await connection.execute(
        """
        INSERT INTO follows (follower_id, followee_id, followed_at) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING
        """,
        user_id,
        followee_id,
        now,
    )
    if inserted.endswith(" 0"):
        return False, stream_version
    count = await connection.fetchval("SELECT count(*) FROM follows WHERE follower_id = $1", user_id)
    if count > MAX_FOLLOWS:
        raise InvalidInput(f"You can follow at most {MAX_FOLLOWS} people.", field="userId")
    event = Followed(
        followee_id=followee_id, handle=followee["handle"], display_name=followee["display_name"]
    )
    return True, await append(connection, user_id, [event], occurred_at=now, request_id=request_id)


async def unfollow(
    connection: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    followee_id: uuid.UUID,
    now: datetime,
    request_id: str | None,
) -> tuple[bool, int]:
    """Stop following (idempotent); (changed, stream version)."""
    stream_version = await lock_stream(connection, user_id)
    status = await connection.execute(
        "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2", user_id, followee_id
    )
    if status.endswith(" 0"):
        return False, stream_version
    event = Unfollowed(followee_id=followee_id)
    return True, await append(connection, user_id, [event], occurred_at=now, request_id=request_id)
