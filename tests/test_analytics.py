"""Analytics: exact anonymous counts kept by the projections, a read-only role, JSON and CSV reports."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest

from commands.events import Workout
from core import clock
from core.settings import Settings
from migrations.runner import migrate
from projections import analytics, analytics_rebuild, store
from projections.batch import WorkoutRows
from projections.records import sessions_of
from projections.workouts import document, summarize
from queries import analytics as queries
from tests.accounts import PASSWORD, access_headers, bearer, sign_up
from tests.harness import analyst_role_of, assert_problem, read_fresh

BENCH = "barbell-bench-press"
REPORTS = ("/v1/analytics/daily", "/v1/analytics/exercises", "/v1/analytics/retention")


def kg(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "kg"}


def logged(started_at: str, *exercises: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "title": "Session",
        "startedAt": started_at,
        "exercises": [{"exerciseId": exercise_id, "sets": sets} for exercise_id, sets in exercises],
    }


def day(on: str, active: int, workouts: int, sets: int, volume: float, new_users: int = 0) -> dict[str, Any]:
    return {
        "date": on,
        "activeUsers": active,
        "workouts": workouts,
        "sets": sets,
        "volumeKg": volume,
        "newUsers": new_users,
    }


def popular(exercise_id: str, users: int, sessions: int, sets: int, volume: float) -> dict[str, Any]:
    return {"exerciseId": exercise_id, "users": users, "sessions": sessions, "sets": sets, "volumeKg": volume}


def without_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "name"} for item in items]


# End to end: HTTP writes, a real worker, the reports.

# 2019-03-04 is the Monday of ISO week 2019-W10; no other test logs workouts in that year.
A_WEEK_DAY_ONE = logged(
    "2019-03-04T10:00:00+00:00",
    (
        BENCH,
        [
            {"type": "warmup", "reps": 10, "weight": kg(60)},
            {"reps": 5, "weight": kg(100)},
            {"reps": 8, "weight": kg(90)},
        ],
    ),
    ("pull-up", [{"reps": 12}]),
)  # 3 working sets, 1220 kg
A_LATE_NIGHT = logged("2019-03-04T23:30:00-02:00", (BENCH, [{"reps": 3, "weight": kg(105)}]))  # 03-05 in UTC
B_BENCH = logged("2019-03-04T18:00:00+00:00", (BENCH, [{"reps": 10, "weight": kg(50)}]))  # 1 set, 500 kg


async def wait_for(client: Any, headers: dict[str, str], written: Any) -> None:
    """Until the writer's read models (and so the counts, in the same transaction) include `written`."""
    await read_fresh(client, "/v1/stats/dashboard", headers, written.headers["x-consistency-token"])


async def test_daily_and_exercise_counts_are_exact_and_follow_amends_and_deletes(
    client: Any, settings: Settings, start_worker: Any
) -> None:
    start_worker()
    analyst = access_headers(settings, role="analyst")
    a, b = bearer(await sign_up(client)), bearer(await sign_up(client))
    custom = str(uuid.uuid4())
    landmine = {
        "name": "Landmine Press",
        "category": "barbell",
        "equipment": "barbell",
        "measurement": "weight_reps",
        "primaryMuscles": ["shoulders"],
    }
    assert (await client.put(f"/v1/exercises/{custom}", json=landmine, headers=b)).status_code == 201
    late_night = uuid.uuid4()
    await client.put(f"/v1/workouts/{uuid.uuid4()}", json=A_WEEK_DAY_ONE, headers=a)
    await wait_for(client, a, await client.put(f"/v1/workouts/{late_night}", json=A_LATE_NIGHT, headers=a))
    b_bench = uuid.uuid4()
    await client.put(f"/v1/workouts/{b_bench}", json=B_BENCH, headers=b)
    three_by_ten = [{"reps": 10, "weight": kg(20)}] * 3
    b_custom = logged("2019-03-06T12:00:00+00:00", (custom, three_by_ten))  # 3 sets, 600 kg
    await wait_for(client, b, await client.put(f"/v1/workouts/{uuid.uuid4()}", json=b_custom, headers=b))

    daily = await client.get("/v1/analytics/daily?from=2019-03-04&to=2019-03-06", headers=analyst)
    assert daily.status_code == 200, daily.text
    assert daily.json() == {
        "from": "2019-03-04",
        "to": "2019-03-06",
        "items": [
            day("2019-03-04", 2, 2, 4, 1720.0),
            day("2019-03-05", 1, 1, 1, 315.0),
            day("2019-03-06", 1, 1, 3, 600.0),
        ],
    }
    week = (await client.get("/v1/analytics/exercises?week=2019-W10", headers=analyst)).json()
    assert week["weekStart"] == "2019-03-04"
    assert without_names(week["items"]) == [
        popular(BENCH, 2, 3, 4, 2035.0),
        popular("custom", 1, 1, 3, 600.0),  # custom exercises are counted together, nameless
        popular("pull-up", 1, 1, 1, 0.0),
    ]
    assert [item["name"] for item in week["items"]] == ["Barbell Bench Press", "Custom exercises", "Pull-Up"]

    moved = logged("2019-03-11T07:00:00+00:00", (BENCH, [{"reps": 3, "weight": kg(105)}]))  # into W11
    amended = await client.put(f"/v1/workouts/{late_night}", json=moved, headers={**a, "If-Match": '"1"'})
    assert amended.status_code == 200, amended.text
    await wait_for(client, a, amended)
    await wait_for(client, b, await client.delete(f"/v1/workouts/{b_bench}", headers=b))

    daily = await client.get("/v1/analytics/daily?from=2019-03-04&to=2019-03-11", headers=analyst)
    assert daily.json()["items"] == [
        day("2019-03-04", 1, 1, 3, 1220.0),
        day("2019-03-05", 0, 0, 0, 0.0),
        day("2019-03-06", 1, 1, 3, 600.0),
        *(day(f"2019-03-{n:02d}", 0, 0, 0, 0.0) for n in range(7, 11)),
        day("2019-03-11", 1, 1, 1, 315.0),
    ]
    w10 = (await client.get("/v1/analytics/exercises?week=2019-W10", headers=analyst)).json()["items"]
    assert without_names(w10) == [
        popular(BENCH, 1, 1, 2, 1220.0),
        popular("custom", 1, 1, 3, 600.0),
        popular("pull-up", 1, 1, 1, 0.0),
    ]
    w11 = (await client.get("/v1/analytics/exercises?week=2019-W11", headers=analyst)).json()["items"]
    assert without_names(w11) == [popular(BENCH, 1, 1, 1, 315.0)]

    as_csv = await client.get(
        "/v1/analytics/daily?from=2019-03-04&to=2019-03-06", headers={**analyst, "Accept": "text/csv"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows == [
        ["date", "active_users", "workouts", "sets", "volume_kg", "new_users"],
        ["2019-03-04", "1", "1", "3", "1220.0", "0"],
        ["2019-03-05", "0", "0", "0", "0.0", "0"],
        ["2019-03-06", "1", "1", "3", "600.0", "0"],
    ]
    exercises_csv = await client.get(
        "/v1/analytics/exercises?week=2019-W10", headers={**analyst, "Accept": "text/csv"}
    )
    assert next(iter(csv.DictReader(io.StringIO(exercises_csv.text)))) == {
        "week": "2019-W10",
        "exercise_id": BENCH,
        "name": "Barbell Bench Press",
        "users": "1",
        "sessions": "1",
        "sets": "2",
        "volume_kg": "1220.0",
    }

    # The worker's sweeper folds the changes into the counts (every 0.5 s here): the report stays.
    db = await asyncpg.connect(settings.database.url)
    try:
        deadline = time.monotonic() + 20
        while await db.fetchval(
            "SELECT count(*) FROM analytics.daily_activity_changes"
            " WHERE day BETWEEN '2019-03-04' AND '2019-03-11'"
        ):
            assert time.monotonic() < deadline, "the sweeper did not fold the counts' changes"
            await asyncio.sleep(0.1)
        folded = await db.fetchval("SELECT workouts FROM analytics.daily_activity WHERE day = '2019-03-11'")
    finally:
        await db.close()
    assert folded == 1
    again = await client.get("/v1/analytics/daily?from=2019-03-04&to=2019-03-11", headers=analyst)
    assert again.json() == daily.json()


async def settled(db: asyncpg.Connection, timeout_s: float = 20) -> None:
    """Until no earlier test's writes wait for projection, so the counts of today hold still."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = await db.fetchval(
            """
            SELECT count(*) FROM projection_pending p LEFT JOIN projection_checkpoints c USING (user_id)
            WHERE c.parked_version IS NULL
            """
        )
        if waiting == 0:
            return
        await asyncio.sleep(0.2)


async def todays_counts(client: Any, analyst: dict[str, str]) -> tuple[int, int, list[int]]:
    """Today's new users and active users, and this week's cohort's active users by week."""
    today = clock.now().date().isoformat()
    daily = (await client.get(f"/v1/analytics/daily?from={today}&to={today}", headers=analyst)).json()
    cohorts = (await client.get("/v1/analytics/retention?cohorts=1", headers=analyst)).json()["items"]
    return daily["items"][0]["newUsers"], daily["items"][0]["activeUsers"], cohorts[0]["activeUsers"]


async def test_signups_and_retention_count_and_outlive_an_erased_account(
    client: Any, settings: Settings, start_worker: Any
) -> None:
    start_worker()
    analyst = access_headers(settings, role="admin")
    assert settings.database.url
    db = await asyncpg.connect(settings.database.url)
    try:
        await settled(db)
        new_before, active_before, week_zero_before = await todays_counts(client, analyst)
        leaving = await sign_up(client)
        staying = await sign_up(client)
        leaving_id = uuid.UUID(leaving["user"]["id"])
        just_now = (clock.now() - timedelta(minutes=1)).isoformat()
        for person in (leaving, staying):
            workout = logged(just_now, (BENCH, [{"reps": 5, "weight": kg(60)}]))
            written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout, headers=bearer(person))
            await wait_for(client, bearer(person), written)
        if just_now[:10] != clock.now().date().isoformat():
            pytest.skip("the UTC day turned during the test")

        new_users, active, week_zero = await todays_counts(client, analyst)
        assert (new_users - new_before, active - active_before) == (2, 2)
        assert week_zero[0] - week_zero_before[0] == 2
        assert await db.fetchval("SELECT count(*) FROM rm_activity_days WHERE user_id = $1", leaving_id) == 1

        erased = await client.request(
            "DELETE", "/v1/me", json={"password": PASSWORD}, headers=bearer(leaving)
        )

        assert erased.status_code == 204
        assert await todays_counts(client, analyst) == (new_users, active, week_zero)
        for table in ("rm_activity_days", "rm_activity_exercises", "rm_signups"):
            assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", leaving_id) == 0
    finally:
        await db.close()


async def test_users_are_refused_every_report(client: Any, settings: Settings) -> None:
    lifter = access_headers(settings, role="user")
    for path in REPORTS:
        assert_problem(await client.get(path, headers=lifter), 403)
        assert_problem(await client.get(path), 401)
        assert (await client.get(path, headers=access_headers(settings, role="analyst"))).status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/daily?from=2026-11-02&to=2026-11-01", "from"),
        ("/daily?from=2024-01-01&to=2025-01-01", "to"),  # 367 days, over the 366 allowed
        ("/daily?from=yesterday", "from"),
        ("/exercises?week=2026-W54", "week"),
        ("/exercises?week=2026-48", "week"),
        ("/retention?cohorts=0", "cohorts"),
    ],
)
async def test_bad_report_parameters_are_a_422_naming_them(
    client: Any, settings: Settings, query: str, field: str
) -> None:
    response = await client.get(f"/v1/analytics{query}", headers=access_headers(settings, role="analyst"))
    errors = assert_problem(response, 422)["errors"]
    assert field in errors[0]["field"]


async def test_a_year_of_days_and_the_default_reports(client: Any, settings: Settings) -> None:
    analyst = access_headers(settings, role="analyst")
    year = await client.get("/v1/analytics/daily?from=2024-01-01&to=2024-12-31", headers=analyst)
    assert len(year.json()["items"]) == 366
    recent = (await client.get("/v1/analytics/daily", headers=analyst)).json()
    assert len(recent["items"]) == 30 and recent["to"] == clock.now().date().isoformat()
    this_week = (await client.get("/v1/analytics/exercises", headers=analyst)).json()
    assert date.fromisoformat(this_week["weekStart"]).isocalendar()[:2] == clock.now().isocalendar()[:2]
    cohorts = (await client.get("/v1/analytics/retention?cohorts=3", headers=analyst)).json()["items"]
    assert [len(cohort["activeUsers"]) for cohort in cohorts] == [3, 2, 1]
    as_csv = await client.get("/v1/analytics/retention?cohorts=3", headers={**analyst, "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(row["cohort_week"], row["weeks_since_signup"]) for row in rows] == [
        (cohorts[0]["cohortWeek"], "0"),
        (cohorts[0]["cohortWeek"], "1"),
        (cohorts[0]["cohortWeek"], "2"),
        (cohorts[1]["cohortWeek"], "0"),
        (cohorts[1]["cohortWeek"], "1"),
        (cohorts[2]["cohortWeek"], "0"),
    ]


# The projection on its own, inside a transaction that is rolled back (so in a year nobody else uses).

MONDAY = date(2001, 1, 1)


async def put_workout(
    rolled_back: asyncpg.Connection, user_id: uuid.UUID, workout_id: uuid.UUID, body: dict[str, Any]
) -> None:
    """Write a workout's read models as the runner does."""
    workout = msgspec.convert(body, Workout)
    detail = document(workout_id, 1, workout, "epley", str)
    sessions = sessions_of(workout_id, workout, "epley")
    rows = WorkoutRows(summarize(workout_id, 1, workout), detail, b"{}", sessions)
    await store.write_workouts(rolled_back, user_id, {workout_id: rows})


async def drop_workout(rolled_back: asyncpg.Connection, user_id: uuid.UUID, workout_id: uuid.UUID) -> None:
    await store.write_workouts(rolled_back, user_id, {workout_id: None})


async def counts(rolled_back: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every count of January 2001, as plain tuples, once the changes are folded in."""
    await analytics.fold_counts(rolled_back)
    daily = await rolled_back.fetch(
        """
        SELECT day, active_users, workouts, sets, volume_kg, new_users FROM analytics.daily_activity
        WHERE day BETWEEN '2001-01-01' AND '2001-01-31' ORDER BY day
        """
    )
    popularity = await rolled_back.fetch(
        """
        SELECT week, exercise_id, users, sessions, sets, volume_kg FROM analytics.exercise_popularity
        WHERE week BETWEEN '2001-01-01' AND '2001-01-31' ORDER BY week, exercise_id
        """
    )
    retention = await rolled_back.fetch(
        """
        SELECT cohort_week, weeks_since_signup, users FROM analytics.retention
        WHERE cohort_week BETWEEN '2001-01-01' AND '2001-01-31' ORDER BY 1, 2
        """
    )
    return {
        "daily": [tuple(row) for row in daily],
        "popularity": [tuple(row) for row in popularity],
        "retention": [tuple(row) for row in retention],
    }


def on(day_of_january: int, hour: int = 12) -> str:
    return f"2001-01-{day_of_january:02d}T{hour:02d}:00:00+00:00"


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def test_the_counts_are_differences_of_state_so_a_repeat_changes_nothing(
    rolled_back: asyncpg.Connection,
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    first, second, others = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    wednesday = MONDAY + timedelta(days=2)
    heavy = (BENCH, [{"reps": 5, "weight": kg(100)}, {"reps": 8, "weight": kg(90)}])  # 2 sets, 1220 kg
    await analytics.project_activity(rolled_back, me, days=set(), registered_at=at(on(3, 9)), count=True)
    await analytics.project_activity(rolled_back, other, days=set(), registered_at=at(on(2, 9)), count=True)
    await put_workout(rolled_back, me, first, logged(on(3), heavy))
    await put_workout(
        rolled_back, me, second, logged(on(16), (BENCH, [{"reps": 1, "weight": kg(120)}]))
    )  # week 2
    await put_workout(
        rolled_back, other, others, logged(on(3, 20), (BENCH, [{"reps": 10, "weight": kg(50)}]))
    )
    for _ in range(2):  # the second pass is a redelivery: it must find nothing to change
        await analytics.project_activity(
            rolled_back,
            me,
            days={wednesday, MONDAY + timedelta(days=15)},
            registered_at=at(on(3, 9)),
            count=True,
        )
        await analytics.project_activity(rolled_back, other, days={wednesday}, registered_at=None, count=True)

        assert await counts(rolled_back) == {
            "daily": [
                (date(2001, 1, 2), 0, 0, 0, 0, 1),
                (wednesday, 2, 2, 3, 1720, 1),
                (date(2001, 1, 16), 1, 1, 1, 120, 0),
            ],
            "popularity": [(MONDAY, BENCH, 2, 2, 3, 1720), (date(2001, 1, 15), BENCH, 1, 1, 1, 120)],
            "retention": [(MONDAY, 0, 2), (MONDAY, 2, 1)],
        }

    await drop_workout(rolled_back, me, first)
    await drop_workout(rolled_back, me, second)
    await analytics.project_activity(
        rolled_back, me, days={wednesday, MONDAY + timedelta(days=15)}, registered_at=None, count=True
    )

    assert await counts(rolled_back) == {
        "daily": [
            (date(2001, 1, 2), 0, 0, 0, 0, 1),
            (wednesday, 1, 1, 1, 500, 1),
            (date(2001, 1, 16), 0, 0, 0, 0, 0),
        ],
        "popularity": [(MONDAY, BENCH, 1, 1, 1, 500)],  # rows nobody counts in any more go
        "retention": [(MONDAY, 0, 1)],
    }
    assert await rolled_back.fetchval("SELECT count(*) FROM rm_activity_days WHERE user_id = $1", me) == 0


async def reports(reads: asyncpg.Connection) -> tuple[Any, ...]:
    """The three reports on January 2001 (the cohorts up to the week of the 31st)."""
    pool = cast(asyncpg.Pool, reads)  # they read with `fetch`, which a connection has too
    return (
        await queries.daily_activity(pool, MONDAY, date(2001, 1, 31)),
        await queries.exercise_popularity(pool, MONDAY),
        await queries.exercise_popularity(pool, MONDAY + timedelta(weeks=2)),
        await queries.retention(pool, date(2001, 1, 31), 5),
    )


async def test_the_reports_add_the_changes_not_yet_folded_and_a_fold_changes_no_report(
    rolled_back: asyncpg.Connection,
) -> None:
    me, other = uuid.uuid4(), uuid.uuid4()
    gone = uuid.uuid4()
    bench = (BENCH, [{"reps": 5, "weight": kg(100)}])
    await analytics.project_activity(rolled_back, me, days=set(), registered_at=at(on(2, 9)), count=True)
    await put_workout(rolled_back, me, uuid.uuid4(), logged(on(3), bench))
    await put_workout(rolled_back, me, gone, logged(on(16), bench))
    await analytics.project_activity(
        rolled_back, me, days={date(2001, 1, 3), date(2001, 1, 16)}, registered_at=None, count=True
    )
    await analytics.fold_counts(rolled_back)
    # Then changes on top of folded counts, some of them taking a row back to no users.
    await drop_workout(rolled_back, me, gone)
    await analytics.project_activity(
        rolled_back, me, days={date(2001, 1, 16)}, registered_at=None, count=True
    )
    await put_workout(rolled_back, other, uuid.uuid4(), logged(on(3, 18), bench))
    await analytics.project_activity(
        rolled_back, other, days={date(2001, 1, 3)}, registered_at=at(on(3, 9)), count=True
    )
    pending = await rolled_back.fetchval(
        "SELECT count(*) FROM analytics.daily_activity_changes"
        " WHERE day BETWEEN '2001-01-01' AND '2001-01-31'"
    )
    assert pending > 0

    before = await reports(rolled_back)
    daily, first_week, third_week, cohorts = before
    assert [
        (d.date.day, d.active_users, d.workouts, d.new_users)
        for d in daily.items
        if d.active_users or d.new_users
    ] == [
        (2, 0, 0, 1),
        (3, 2, 2, 1),
    ]
    assert [(e.exercise_id, e.users, e.sessions) for e in first_week.items] == [(BENCH, 2, 2)]
    assert third_week.items == []  # the week whose only workout was deleted
    assert cohorts.items[0].users == 2 and cohorts.items[0].active_users[0] == 2
    assert await analytics.fold_counts(rolled_back) >= pending
    assert await reports(rolled_back) == before
    for table in ("daily_activity", "exercise_popularity", "retention"):
        assert await rolled_back.fetchval(f"SELECT count(*) FROM analytics.{table}_changes") == 0
    assert not await rolled_back.fetchval(
        "SELECT EXISTS (SELECT 1 FROM analytics.exercise_popularity WHERE week = '2001-01-15')"
    ), "a row left without users is deleted by the fold"


async def test_batches_of_two_users_on_the_same_day_do_not_wait_for_each_other(
    rolled_back: asyncpg.Connection, settings: Settings
) -> None:
    """Each batch's share of the counts is rows of its own: a batch not yet committed holds no shared
    row the other's needs (it used to hold the day's, the week's and the cohort's until its commit)."""
    bench = (BENCH, [{"reps": 5, "weight": kg(100)}])
    first = uuid.uuid4()
    await put_workout(rolled_back, first, uuid.uuid4(), logged(on(3), bench))
    await analytics.project_activity(
        rolled_back, first, days={date(2001, 1, 3)}, registered_at=at(on(3, 9)), count=True
    )
    other = await asyncpg.connect(settings.database.url)
    transaction = other.transaction()  # rolled back too: it leaves nothing
    await transaction.start()
    try:
        await other.execute("SET LOCAL lock_timeout = '2s'")
        second = uuid.uuid4()
        await put_workout(other, second, uuid.uuid4(), logged(on(3, 18), bench))
        await analytics.project_activity(
            other, second, days={date(2001, 1, 3)}, registered_at=at(on(3, 8)), count=True
        )
        assert (await counts(other))["daily"] == [(date(2001, 1, 3), 1, 1, 1, 500, 1)]
    finally:
        await transaction.rollback()
        await other.close()


async def test_an_exercise_counts_in_the_iso_week_of_its_utc_date(rolled_back: asyncpg.Connection) -> None:
    me = uuid.uuid4()
    monday_in_athens = "2001-01-08T01:00:00+02:00"  # Sunday 23:00 UTC: the first week
    await put_workout(
        rolled_back, me, uuid.uuid4(), logged(monday_in_athens, (BENCH, [{"reps": 5, "weight": kg(100)}]))
    )
    await put_workout(
        rolled_back, me, uuid.uuid4(), logged(on(8, 0), (BENCH, [{"reps": 1, "weight": kg(100)}]))
    )

    await analytics.project_activity(
        rolled_back, me, days={date(2001, 1, 7), date(2001, 1, 8)}, registered_at=None, count=True
    )

    assert (await counts(rolled_back))["popularity"] == [
        (MONDAY, BENCH, 1, 1, 1, 500),
        (date(2001, 1, 8), BENCH, 1, 1, 1, 100),
    ]


SHADOW = "analytics_test_shadow"


async def shadow_tables(rolled_back: asyncpg.Connection) -> None:
    """Empty copies of the read models the projection touches, in SHADOW, as a rebuild makes them."""
    await rolled_back.execute(f"CREATE SCHEMA {SHADOW}")
    for table in (
        "rm_activity_days",
        "rm_activity_exercises",
        "rm_signups",
        "rm_workout_summaries",
        "rm_workout_documents",
        "rm_exercise_sessions",
    ):
        await rolled_back.execute(f"CREATE TABLE {SHADOW}.{table} (LIKE public.{table} INCLUDING ALL)")


async def rows_of(rolled_back: asyncpg.Connection, table: str, user_id: uuid.UUID) -> int:
    count: int = await rolled_back.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", user_id)
    return count


async def test_a_rebuild_writes_the_users_state_in_the_shadow_tables_and_no_counts(
    rolled_back: asyncpg.Connection,
) -> None:
    me = uuid.uuid4()
    await shadow_tables(rolled_back)
    await rolled_back.execute(f"SET LOCAL search_path = {SHADOW}, public")
    await put_workout(rolled_back, me, uuid.uuid4(), logged(on(3), (BENCH, [{"reps": 5, "weight": kg(100)}])))

    await analytics.project_activity(
        rolled_back, me, days={MONDAY + timedelta(days=2)}, registered_at=at(on(3, 9)), count=False
    )

    assert await counts(rolled_back) == {"daily": [], "popularity": [], "retention": []}
    for table in ("rm_activity_days", "rm_activity_exercises", "rm_signups"):
        assert await rows_of(rolled_back, f"{SHADOW}.{table}", me) == 1
        assert await rows_of(rolled_back, f"public.{table}", me) == 0


async def test_a_rebuilds_swap_moves_the_counts_by_what_the_rebuilt_state_differs(
    rolled_back: asyncpg.Connection,
) -> None:
    me = uuid.uuid4()
    squat = "barbell-back-squat"
    await put_workout(rolled_back, me, uuid.uuid4(), logged(on(3), (BENCH, [{"reps": 5, "weight": kg(100)}])))
    await analytics.project_activity(
        rolled_back, me, days={MONDAY + timedelta(days=2)}, registered_at=at(on(3, 9)), count=True
    )
    await shadow_tables(rolled_back)
    await rolled_back.execute(f"SET LOCAL search_path = {SHADOW}, public")
    await put_workout(rolled_back, me, uuid.uuid4(), logged(on(3), (squat, [{"reps": 3, "weight": kg(100)}])))
    await put_workout(
        rolled_back, me, uuid.uuid4(), logged(on(10), (BENCH, [{"reps": 1, "weight": kg(100)}]))
    )
    await analytics.project_activity(
        rolled_back, me, days={date(2001, 1, 3), date(2001, 1, 10)}, registered_at=at(on(3, 9)), count=False
    )
    await rolled_back.execute("SET LOCAL search_path = public")

    await analytics_rebuild.reconcile_rebuilt(rolled_back, SHADOW, me)

    assert await counts(rolled_back) == {
        "daily": [(date(2001, 1, 3), 1, 1, 1, 300, 1), (date(2001, 1, 10), 1, 1, 1, 100, 0)],
        "popularity": [(MONDAY, squat, 1, 1, 1, 300), (date(2001, 1, 8), BENCH, 1, 1, 1, 100)],
        "retention": [(MONDAY, 0, 1), (MONDAY, 1, 1)],
    }


# The analysts' database role.


def as_role(url: str, role: str, password: str) -> str:
    """The same server and database, signed in as `role` (a unix-socket URL keeps its `host` query)."""
    parts = urlsplit(url)
    server = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{server}"))


async def test_the_run_is_migrated_with_its_own_analyst_role(settings: Settings) -> None:
    assert settings.database.url
    database = urlsplit(settings.database.url).path.lstrip("/")
    assert settings.database.analyst_role == analyst_role_of(database)
    connection = await asyncpg.connect(settings.database.url)
    try:
        config = await connection.fetchval(
            "SELECT rolconfig FROM pg_roles WHERE rolname = $1", settings.database.analyst_role
        )
        assert "statement_timeout=30s" in config
        assert await connection.fetchval(
            "SELECT has_table_privilege($1, 'analytics.daily_activity', 'SELECT')",
            settings.database.analyst_role,
        )
    finally:
        await connection.close()


async def test_the_analyst_role_reads_analytics_and_is_denied_everything_else(
    settings: Settings, fresh_database: str
) -> None:
    role = analyst_role_of(urlsplit(fresh_database).path.lstrip("/"))  # dropped with the database
    password = "read-the-counts-" + uuid.uuid4().hex[:8]
    database = msgspec.structs.replace(
        settings.database, url=fresh_database, analyst_role=role, analyst_password=password
    )
    await migrate(msgspec.structs.replace(settings, database=database))
    analyst = await asyncpg.connect(as_role(fresh_database, role, password))
    try:
        assert await analyst.fetchval("SHOW statement_timeout") == "30s"
        for table in ("daily_activity", "exercise_popularity", "retention", "exercises"):
            await analyst.fetch(f"SELECT * FROM analytics.{table} LIMIT 1")
        await analyst.fetch("SELECT * FROM daily_activity LIMIT 1")  # analytics is its search_path
        for table in (
            "users",
            "events",
            "workouts",
            "refresh_tokens",
            "exercise_catalog",
            "migration",
            "rm_workout_summaries",
            "rm_activity_days",
            "rm_signups",
            "rm_dashboards",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await analyst.fetch(f"SELECT * FROM public.{table} LIMIT 1")
        await analyst.execute("SET default_transaction_read_only = off")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analyst.execute("CREATE TABLE public.notes (body text)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analyst.execute("INSERT INTO analytics.retention VALUES ('2001-01-01', 0, 1)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await analyst.execute("CREATE TABLE analytics.notes (body text)")
    finally:
        await analyst.close()
