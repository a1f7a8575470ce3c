"""What one new workout costs the projection in round trips to Postgres: a small fixed number, the
same whatever the length of the user's history (cost proportional to the change, not to the past)."""

from __future__ import annotations

import collections
import functools
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from core import clock
from core.db import Connection
from core.units import as_entered
from projections import store
from projections.batch import exercise_name
from projections.documents import WorkoutSummary
from projections.records import RecordsDetail, record_marks, records_of
from projections.runner import project_user
from tests.accounts import bearer, sign_up

EXERCISES = ("barbell-back-squat", "barbell-bench-press", "barbell-deadlift")
#: Statements sent for one logged workout of three exercises (projection, then the Redis sync),
#: pool bookkeeping included. Lower it when a change saves some; never raise it without cause.
CEILING = 10


@functools.cache
def _anchor() -> datetime:
    """The instant the module's workouts are dated from, taken once: a workout sent again with the same
    `days_ago` keeps the start it was logged with, whenever the clock's second turns in between."""
    return clock.now().replace(microsecond=0)


def session(days_ago: int, kg: float, reps: int = 5) -> dict[str, Any]:
    started = _anchor() - timedelta(days=days_ago, hours=2)
    return {
        "title": f"Day {days_ago}",
        "startedAt": started.isoformat(),
        "endedAt": (started + timedelta(hours=1)).isoformat(),
        "exercises": [
            {"exerciseId": exercise_id, "sets": [{"reps": reps, "weight": {"value": kg, "unit": "kg"}}] * 3}
            for exercise_id in EXERCISES
        ],
    }


class CountingPool:
    """A pool of one connection whose statements are counted while `counting` is set."""

    def __init__(self) -> None:
        self.counting = False
        self.sent: collections.Counter[str] = collections.Counter()

    def log(self, record: Any) -> None:
        if self.counting:
            self.sent[" ".join(record.query.split())[:100]] += 1

    async def open(self, url: str) -> asyncpg.Pool:
        async def init(connection: asyncpg.Connection) -> None:
            connection.add_query_logger(self.log)

        return await asyncpg.create_pool(url, min_size=1, max_size=1, init=init, connection_class=Connection)


async def test_one_new_workout_costs_the_same_few_round_trips_whatever_the_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    _, redis, keys = resources
    costs = {}
    for history in (1, 40):
        signed_in = await sign_up(client)
        me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
        for day in range(history, 0, -1):
            logged = session(day + 1, 50.0 + day)
            put = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=logged, headers=me)
            assert put.status_code == 201, put.text
        counter = CountingPool()
        pool = await counter.open(settings.database.url)
        try:
            await project_user(pool, redis, keys, user_id)  # the history; warms the connection up
            put = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=session(0, 40.0), headers=me)
            assert put.status_code == 201, put.text
            counter.counting = True
            outcome = await project_user(pool, redis, keys, user_id)
        finally:
            await pool.close()
        assert outcome.applied == 1 and outcome.synced
        costs[history] = sum(counter.sent.values())
        assert costs[history] <= CEILING, "\n".join(f"{n} {q}" for q, n in counter.sent.most_common())
    assert costs[1] == costs[40]


async def four_days(client: Any) -> tuple[dict[str, str], uuid.UUID, dict[int, uuid.UUID]]:
    """A new user with a workout on each of the last four days (70 kg on day 2 holds the records; 50
    and 40 kg beat nothing): their headers, id and workout ids by day."""
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    ids = {}
    for day, kg in ((4, 60.0), (3, 50.0), (2, 70.0), (1, 40.0)):
        ids[day] = uuid.uuid4()
        assert (
            await client.put(f"/v1/workouts/{ids[day]}", json=session(day, kg), headers=me)
        ).status_code == 201
    return me, user_id, ids


#: What a projection read of an exercise's sessions besides the batch's own: none of them (""), those
#: from its first change on, with the records held before found by Postgres ("from", store.history_from),
#: or its whole history ("whole", store.exercise_sessions).
HISTORY_READS = {
    "SELECT p.exercise_id, b.sessions": "from",
    "SELECT exercise_id, body FROM rm_exercise_sessions": "whole",
}


async def reads_a_history(
    counter: CountingPool, pool: asyncpg.Pool, resources: tuple[Any, Any, Any], user_id: uuid.UUID
) -> str:
    """Project the user, counted: which history of sessions that read ("", "from" or "whole"; the
    whole when some exercise's was)."""
    _, redis, keys = resources
    counter.sent.clear()
    counter.counting = True
    await project_user(pool, redis, keys, user_id)
    counter.counting = False
    read = {label for start, label in HISTORY_READS.items() for q in counter.sent if q.startswith(start)}
    return "whole" if "whole" in read else "from" if read else ""


async def test_deleting_a_workout_that_set_no_record_keeps_the_records_without_reading_the_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    _, redis, keys = resources
    me, user_id, ids = await four_days(client)
    counter = CountingPool()
    pool = await counter.open(settings.database.url)
    try:
        await project_user(pool, redis, keys, user_id)
        for deleted, reads_history in ((3, ""), (2, "from")):  # the 70 kg workout holds the records
            assert (await client.delete(f"/v1/workouts/{ids[deleted]}", headers=me)).status_code == 204
            assert await reads_a_history(counter, pool, resources, user_id) == reads_history, counter.sent
            histories = await records_as_from_history(pool, user_id)
            assert all(len(history) == (3 if deleted == 3 else 2) for history in histories.values())
    finally:
        await pool.close()


async def records_as_from_history(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, list[Any]]:
    """Assert that each exercise's stored records, its sessions' marks and its workouts' marks are
    what its whole history gives; the histories."""
    async with pool.acquire() as connection:
        histories = await store.exercise_sessions(connection, user_id, EXERCISES)
        summaries = {
            row["workout_id"]: msgspec.json.decode(row["body"], type=WorkoutSummary)
            for row in await connection.fetch(
                "SELECT workout_id, body FROM rm_workout_summaries WHERE user_id = $1", user_id
            )
        }
        for exercise_id in EXERCISES:
            stored = await connection.fetchval(
                "SELECT detail FROM rm_records WHERE user_id = $1 AND exercise_id = $2", user_id, exercise_id
            )
            history = histories[exercise_id]
            expected = records_of(exercise_id, exercise_name(exercise_id), "weight_reps", history)
            assert msgspec.json.decode(stored, type=RecordsDetail) == expected
            marks = record_marks(history, "weight_reps")
            for past in history:
                set_there = [(mark.record, mark.value) for mark in summaries[past.workout_id].records
                             if mark.exercise_id == exercise_id]  # fmt: skip
                assert [record for record, _ in marks.get(past.workout_id, [])] == past.records
                assert set_there == marks.get(past.workout_id, [])
    return histories


async def test_amending_the_latest_workout_that_set_no_record_reads_no_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    _, redis, keys = resources
    me, user_id, ids = await four_days(client)
    counter = CountingPool()
    pool = await counter.open(settings.database.url)
    try:
        await project_user(pool, redis, keys, user_id)
        versions = dict.fromkeys(ids, 1)
        for day, kg, reps, reads_history in (
            (1, 45.0, 5, ""),  # the latest, which set no record, still sets none
            (1, 80.0, 5, ""),  # the latest, which set no record, now sets them all
            (1, 42.0, 5, "from"),  # the latest held records: replayed from it on
            (1, 40.0, 12, ""),  # sets the volume and reps records, not the heaviest nor the e1RM
            (1, 41.0, 5, "from"),  # those records are on no timeline, and held all the same
            (3, 55.0, 5, "from"),  # not the latest
        ):
            versions[day] += 1
            matching = {**me, "If-Match": f'"{versions[day] - 1}"'}
            logged = session(day, kg, reps)
            amended = await client.put(f"/v1/workouts/{ids[day]}", json=logged, headers=matching)
            assert amended.status_code == 200, amended.text
            read = await reads_a_history(counter, pool, resources, user_id)
            assert read == reads_history, (day, kg, counter.sent)
            histories = await records_as_from_history(pool, user_id)
            assert all(len(history) == 4 for history in histories.values())
    finally:
        await pool.close()


async def log_and_delete(
    client: Any, me: dict[str, str], workout_id: uuid.UUID, body: dict[str, Any]
) -> None:
    """A workout logged, then deleted (before the projection sees either)."""
    assert (await client.put(f"/v1/workouts/{workout_id}", json=body, headers=me)).status_code == 201
    assert (await client.delete(f"/v1/workouts/{workout_id}", headers=me)).status_code == 204


async def test_a_workout_logged_and_changed_again_in_one_batch_reads_no_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    """An offline queue, an import or a drain often amends or deletes a workout in the batch that logs
    it: its sessions are withdrawn before they are folded into the records, not read back."""
    me, user_id, _ = await four_days(client)
    counter = CountingPool()
    pool = await counter.open(settings.database.url)
    try:
        await project_user(pool, *resources[1:], user_id)
        logged, dropped = uuid.uuid4(), uuid.uuid4()
        for kg, version in ((80.0, None), (75.0, '"1"'), (72.5, '"2"')):  # sets the records, twice amended
            headers = me if version is None else {**me, "If-Match": version}
            put = await client.put(f"/v1/workouts/{logged}", json=session(0, kg), headers=headers)
            assert put.status_code in {200, 201}, put.text
        await log_and_delete(client, me, dropped, session(5, 90.0))
        assert await reads_a_history(counter, pool, resources, user_id) == "", counter.sent
        histories = await records_as_from_history(pool, user_id)
        assert all(len(history) == 5 for history in histories.values())
        for history in histories.values():  # 72.5 kg beats 70 kg
            assert next(past for past in history if past.workout_id == logged).records
        # Only withdrawn sessions touched these exercises: their records stay as they were.
        for _ in range(2):
            await log_and_delete(client, me, uuid.uuid4(), session(6, 99.0))
        assert await reads_a_history(counter, pool, resources, user_id) == "", counter.sent
        after = await records_as_from_history(pool, user_id)
        assert {e: sorted(h, key=lambda past: past.workout_id) for e, h in after.items()} == {
            e: sorted(h, key=lambda past: past.workout_id) for e, h in histories.items()
        }
    finally:
        await pool.close()


async def test_a_workout_logged_late_but_after_the_last_record_reads_no_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    """A phone that was offline uploads a workout older than the latest: when every record was set
    before it, no later session's marks can change, and it folds into the records like a new one."""
    me, user_id, ids = await four_days(client)
    counter = CountingPool()
    pool = await counter.open(settings.database.url)

    def between(hours_before_day_1: int, kg: float) -> dict[str, Any]:
        """A workout after day 2's (which holds the records) and before day 1's (the latest)."""
        body = session(1, kg)
        started = clock.now() - timedelta(days=1, hours=2 + hours_before_day_1)
        return {
            **body,
            "startedAt": started.replace(microsecond=0).isoformat(),
            "endedAt": (started + timedelta(hours=1)).replace(microsecond=0).isoformat(),
        }

    late, later, early = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        await project_user(pool, *resources[1:], user_id)
        for workout_id, body, version, reads_history, sessions in (
            (late, between(6, 45.0), None, "", 5),  # beats nothing
            (late, between(6, 48.0), '"1"', "", 5),  # amended: it set no record and still sets none
            (later, between(3, 75.0), None, "", 6),  # sets every record, day 1 comes after it
            (late, between(6, 46.0), '"2"', "from", 6),  # now before the last record
            (early, session(3, 65.0), None, "from", 7),  # before records held, and sets some of its own
        ):
            headers = me if version is None else {**me, "If-Match": version}
            put = await client.put(f"/v1/workouts/{workout_id}", json=body, headers=headers)
            assert put.status_code in {200, 201}, put.text
            read = await reads_a_history(counter, pool, resources, user_id)
            assert read == reads_history, (workout_id, body, counter.sent)
            histories = await records_as_from_history(pool, user_id)
            assert all(len(history) == sessions for history in histories.values())
        for history in histories.values():
            assert next(past for past in history if past.workout_id == later).records
            assert next(past for past in history if past.workout_id == early).records
            assert not next(past for past in history if past.workout_id == ids[1]).records
    finally:
        await pool.close()


async def test_amending_a_workout_without_changing_its_bests_reads_no_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    """A new title, a note, a warm-up or an RPE on a record-holding workout, not the latest: its
    sessions reach the same bests at the same time, so no record and no session's marks change."""
    me, user_id, ids = await four_days(client)
    counter = CountingPool()
    pool = await counter.open(settings.database.url)

    def edited(
        title: str, warm_up: bool = False, rpe: float | None = None, kg: float = 70.0, days_ago: int = 2
    ) -> dict[str, Any]:
        body = {**session(days_ago, kg), "title": title, "notes": "felt strong"}
        for entry in body["exercises"]:
            sets = [{**done, "rpe": rpe} if rpe is not None else done for done in entry["sets"]]
            warm = [{"reps": 8, "weight": {"value": 30.0, "unit": "kg"}, "type": "warmup"}] if warm_up else []
            entry["sets"] = warm + sets
        return body

    try:
        await project_user(pool, *resources[1:], user_id)
        before = await records_as_from_history(pool, user_id)
        for version, (body, reads_history) in enumerate(
            (
                (edited("Heavy day"), ""),
                (edited("Heavy day", warm_up=True), ""),
                (edited("Heavy day", warm_up=True, rpe=9.0), ""),
                (edited("Heavy day", warm_up=True, rpe=9.0, kg=72.5), "from"),  # heavier: new bests
                (edited("Heavy day", kg=70.0), "from"),  # back, and day 2 holds the records again
                (edited("Heavy day", days_ago=5), "from"),  # the same bests, earlier: the records' dates
                (edited("Heavy day", days_ago=5, warm_up=True), ""),
            ),
            start=1,
        ):
            put = await client.put(
                f"/v1/workouts/{ids[2]}", json=body, headers={**me, "If-Match": f'"{version}"'}
            )
            assert put.status_code == 200, put.text
            read = await reads_a_history(counter, pool, resources, user_id)
            assert read == reads_history, (version, counter.sent)
            histories = await records_as_from_history(pool, user_id)
            assert all(len(history) == 4 for history in histories.values())
            for exercise_id, history in histories.items():
                held = next(past for past in history if past.workout_id == ids[2])
                was = next(past for past in before[exercise_id] if past.workout_id == ids[2])
                assert held.records == was.records and held.records
            document = await client.get(
                f"/v1/workouts/{ids[2]}",
                headers={**me, "X-Consistency-Token": put.headers["x-consistency-token"]},
            )
            assert document.json()["title"] == "Heavy day"
            assert len(document.json()["records"]) == len(EXERCISES) * 4  # all but most reps
    finally:
        await pool.close()


async def test_sessions_written_before_their_bests_columns_or_a_new_formula_read_the_whole_history(
    client: Any, settings: Any, resources: tuple[Any, Any, Any]
) -> None:
    """Rows a release before the columns wrote (`measured` false) tell Postgres nothing of their bests:
    an exercise with one before the change is replayed whole, as are all after a formula switch."""
    me, user_id, ids = await four_days(client)
    counter = CountingPool()
    pool = await counter.open(settings.database.url)
    try:
        await project_user(pool, *resources[1:], user_id)
        async with pool.acquire() as connection:
            await connection.execute(
                "UPDATE rm_exercise_sessions SET measured = false, heaviest_kg = NULL WHERE user_id = $1"
                " AND exercise_id = $2 AND workout_id = $3",
                user_id,
                EXERCISES[0],
                ids[4],
            )
        assert (await client.delete(f"/v1/workouts/{ids[2]}", headers=me)).status_code == 204
        assert await reads_a_history(counter, pool, resources, user_id) == "whole", counter.sent
        # The others were replayed from the change on.
        assert any(q.startswith("SELECT p.exercise_id, b.sessions") for q in counter.sent), counter.sent
        histories = await records_as_from_history(pool, user_id)
        assert all(len(history) == 3 for history in histories.values())

        formula = await client.patch("/v1/me", json={"e1rmFormula": "brzycki"}, headers=me)
        assert formula.status_code == 200, formula.text
        assert await reads_a_history(counter, pool, resources, user_id) == "whole", counter.sent
    finally:
        await pool.close()


async def test_a_sessions_volume_is_stored_as_the_number_its_document_shows(
    client: Any, resources: tuple[Any, Any, Any]
) -> None:
    """Bound as float8 and made numeric by Postgres, a session's volume reads as `as_entered` reads the
    float of its body: whole numbers with one decimal, the rest with the decimals they have."""
    pool, redis, keys = resources
    signed_in = await sign_up(client)
    me, user_id = bearer(signed_in), uuid.UUID(signed_in["user"]["id"])
    for day, kg in ((5, 80.0), (4, 22.5), (3, 66.67), (2, 0.0), (1, 101.11)):
        workout = session(day, kg)
        if day == 4:  # in pounds: many decimals in kg, rounded to two
            for exercise in workout["exercises"]:
                exercise["sets"] = [{"reps": 5, "weight": {"value": 135, "unit": "lb"}}] * 3
        assert (await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout, headers=me)).status_code == 201
    await project_user(pool, redis, keys, user_id)
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT volume_kg::text AS stored FROM rm_exercise_sessions WHERE user_id = $1", user_id
        )
        sessions = await store.exercise_sessions(connection, user_id, EXERCISES)
    volumes = sorted(str(as_entered(s.volume_kg)) for history in sessions.values() for s in history)
    assert sorted(row["stored"] for row in rows) == volumes
    assert {"1200.0", "918.52", "1000.05", "0.0", "1516.65"} == set(volumes)
