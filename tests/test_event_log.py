"""The event log: rows, events and the stream version commit together, or not at all."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest

from commands.accounts import RegisterUser, UpdateProfile, register_user, update_profile
from commands.events import EVENT_DECODER, ProfileChanged, UserRegistered, Workout, WorkoutLogged
from commands.workouts import put_workout
from core import clock
from tests.accounts import new_identity
from tests.workouts import workout


class Boom(Exception):
    """Raised inside a command's transaction after its events were written."""


async def register(db: asyncpg.Connection) -> uuid.UUID:
    command = msgspec.convert(new_identity(), RegisterUser)
    async with db.transaction():
        registered = await register_user(
            db, command, "$argon2id$not-a-real-hash", now=clock.now(), request_id="req-register"
        )
    return registered.account.id


async def test_registration_opens_the_stream_with_user_registered(db: asyncpg.Connection) -> None:
    user_id = await register(db)
    rows = await db.fetch(
        "SELECT version, type, schema_version, payload, request_id FROM events WHERE user_id = $1", user_id
    )
    assert [(r["version"], r["type"], r["schema_version"], r["request_id"]) for r in rows] == [
        (1, "UserRegistered", 1, "req-register")
    ]
    assert isinstance(EVENT_DECODER.decode(rows[0]["payload"]), UserRegistered)
    assert await db.fetchval("SELECT version FROM streams WHERE user_id = $1", user_id) == 1


async def test_an_exception_after_the_events_are_written_leaves_nothing(db: asyncpg.Connection) -> None:
    user_id = await register(db)
    workout_id = uuid.uuid4()
    body = msgspec.convert(workout(), Workout)

    with pytest.raises(Boom):
        async with db.transaction():
            await put_workout(
                db,
                user_id=user_id,
                workout_id=workout_id,
                workout=body,
                if_match=None,
                now=clock.now(),
                request_id="req-boom",
            )
            assert await db.fetchval("SELECT count(*) FROM events WHERE user_id = $1", user_id) == 2
            raise Boom

    assert await db.fetchval("SELECT count(*) FROM events WHERE user_id = $1", user_id) == 1
    assert await db.fetchval("SELECT version FROM streams WHERE user_id = $1", user_id) == 1
    assert await db.fetchval("SELECT count(*) FROM workouts WHERE id = $1", workout_id) == 0
    assert await db.fetchval("SELECT count(*) FROM workout_sets WHERE workout_id = $1", workout_id) == 0
    assert await db.fetchval("SELECT version FROM projection_pending WHERE user_id = $1", user_id) == 1


async def test_a_logged_workout_event_carries_the_workout_and_the_request_id(db: asyncpg.Connection) -> None:
    user_id = await register(db)
    workout_id = uuid.uuid4()
    body = msgspec.convert(workout(), Workout)
    async with db.transaction():
        written = await put_workout(
            db,
            user_id=user_id,
            workout_id=workout_id,
            workout=body,
            if_match=None,
            now=clock.now(),
            request_id="req-log",
        )
    row = await db.fetchrow(
        "SELECT payload, request_id FROM events WHERE user_id = $1 AND version = 2", user_id
    )
    event = EVENT_DECODER.decode(row["payload"])
    assert event == WorkoutLogged(workout_id=workout_id, workout_version=1, workout=body)
    assert row["request_id"] == "req-log"
    assert written.stream_version == 2


async def test_a_profile_change_appends_only_what_differs(db: asyncpg.Connection) -> None:
    user_id = await register(db)

    async def change(**fields: object) -> int | None:
        async with db.transaction():
            updated = await update_profile(
                db, user_id, msgspec.convert(fields, UpdateProfile), now=clock.now(), request_id=None
            )
        assert updated is not None
        return updated.stream_version

    assert await change(unit="lb", weekStart="monday") == 2  # monday is already the week start
    assert await change(unit="lb") is None
    payload = await db.fetchval("SELECT payload FROM events WHERE user_id = $1 AND version = 2", user_id)
    assert EVENT_DECODER.decode(payload) == ProfileChanged(unit="lb")
