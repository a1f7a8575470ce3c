"""The rm_* tables: the SQL the runner runs inside its transaction (the rows the read side reads too
are in projections/readers.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
import msgspec

from commands.events import WorkoutAmended, WorkoutDeleted, WorkoutLogged
from core.catalog import Exercise
from core.units import as_entered
from projections import leases, outbox, statements
from projections.batch import Latest, WorkoutRows
from projections.documents import (
    CustomExercises,
    Dashboard,
    RecordMark,
    UserSettings,
    WeekTotals,
    WorkoutDocument,
    WorkoutSummary,
)
from projections.library import Library
from projections.packing import pack, unpack
from projections.readers import SETTINGS_COLUMNS, custom_of
from projections.records import RECORD_NAMES, ExerciseSession, RecordsDetail, summary_of, with_marks
from projections.workouts import ZERO

ENCODER = msgspec.json.Encoder()
RECORDS_DECODER = msgspec.json.Decoder(RecordsDetail)
SUMMARY_DECODER = msgspec.json.Decoder(WorkoutSummary)
DOCUMENT_DECODER = msgspec.json.Decoder(WorkoutDocument)
DASHBOARD_DECODER = msgspec.json.Decoder(Dashboard)
EXERCISE_DECODER = msgspec.json.Decoder(Exercise)
SESSION_DECODER = msgspec.json.Decoder(ExerciseSession)


def settings_part(user_id: uuid.UUID, settings: UserSettings) -> statements.Part:
    """The user's settings as a batch leaves them, to write (projections/statements.py)."""
    values = [getattr(settings, name) for name in SETTINGS_COLUMNS]
    placeholders = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in SETTINGS_COLUMNS)
    return statements.Part(
        ctes=[
            (
                "settings",
                f"""
                INSERT INTO rm_user_settings (user_id, {", ".join(SETTINGS_COLUMNS)})
                VALUES ($1, {placeholders})
                ON CONFLICT (user_id) DO UPDATE SET {updates}
                """,  # noqa: S608 - column names from the code
            )
        ],
        args=[user_id, *values],
    )


@dataclass(frozen=True, slots=True)
class Before:
    """What a batch's events start from, read before the first is applied."""

    #: Each workout the events name: its stored summary (None: none) and its sessions by exercise.
    workouts: dict[uuid.UUID, tuple[WorkoutSummary | None, dict[str, ExerciseSession]]]
    #: Each exercise the events log sessions of, or the named workouts have stored sessions of: its
    #: records and the (start, workout) of its latest session (None and None: it has none).
    records: dict[str, tuple[RecordsDetail | None, Latest | None]]

    def covers(self, workout_ids: Iterable[uuid.UUID], exercise_ids: Iterable[str]) -> bool:
        """Whether this holds the state of those workouts and exercises."""
        return self.workouts.keys() >= set(workout_ids) and self.records.keys() >= set(exercise_ids)


def _before_columns(workouts: str, exercises: str) -> str:
    """The columns `Before` is read from (`_before_of`), for the workouts the query `workouts` answers
    and the exercises `exercises` answers; `$1` is the user."""
    return f"""
        (SELECT array_agg(ROW(w.workout_id, s.body, ARRAY(
            SELECT ROW(x.exercise_id, x.body) FROM rm_exercise_sessions x
            WHERE x.user_id = $1 AND x.workout_id = w.workout_id)))
        FROM ({workouts}) AS w(workout_id)
        LEFT JOIN rm_workout_summaries s ON s.user_id = $1 AND s.workout_id = w.workout_id
        ) AS before_workouts,
        (SELECT array_agg(ROW(ex.exercise_id, r.detail, l.started_at, l.workout_id))
        FROM (
            {exercises}
            UNION  -- and those of the named workouts' stored sessions
            SELECT x.exercise_id FROM rm_exercise_sessions x
            WHERE x.user_id = $1 AND x.workout_id IN ({workouts})
        ) AS ex(exercise_id)
        LEFT JOIN rm_records r ON r.user_id = $1 AND r.exercise_id = ex.exercise_id
        LEFT JOIN LATERAL (
            SELECT started_at, workout_id FROM rm_exercise_sessions
            WHERE user_id = $1 AND exercise_id = ex.exercise_id
            ORDER BY started_at DESC, workout_id DESC LIMIT 1
        ) l ON true
        ) AS before_records
    """  # noqa: S608 - queries from the code


def _before_of(row: asyncpg.Record) -> Before:
    return Before(
        workouts={
            workout_id: (
                None if body is None else SUMMARY_DECODER.decode(body),
                {exercise_id: SESSION_DECODER.decode(unpack(stored)) for exercise_id, stored in sessions},
            )
            for workout_id, body, sessions in row["before_workouts"] or ()
        },
        records={
            exercise_id: (
                None if detail is None else RECORDS_DECODER.decode(detail),
                None if workout_id is None else (started_at, uuid.UUID(str(workout_id))),
            )
            for exercise_id, detail, started_at, workout_id in row["before_records"] or ()
        },
    )


async def before_batch(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    workout_ids: Sequence[uuid.UUID],
    exercise_ids: Sequence[str],
) -> Before:
    """The stored state of the workouts and exercises a batch's events name, in one round trip (when
    `start_batch` did not read it already)."""
    if not workout_ids and not exercise_ids:
        return Before({}, {})
    row = await connection.fetchrow(
        f"SELECT {_before_columns('SELECT unnest($2::uuid[])', 'SELECT unnest($3::text[])')}",
        user_id,
        list(workout_ids),
        list(exercise_ids),
    )
    return _before_of(row)


@dataclass(frozen=True, slots=True)
class BatchStart:
    """What every projection batch starts from."""

    version: int  # the checkpoint
    parked_version: int | None
    #: The events after the checkpoint, in version order: (version, type, payload, occurred at).
    events: list[tuple[int, str, bytes | str, datetime]]
    settings: UserSettings
    #: Every custom exercise the user defined, deleted ones too (their sets and names remain).
    custom: CustomExercises
    #: The stored state of what the events name, as read with them (`Before.covers` says whether it
    #: holds all that the decoded events name).
    before: Before


async def start_batch(connection: asyncpg.Connection, user_id: uuid.UUID, limit: int) -> BatchStart | None:
    """The user's checkpoint row, created if need be and locked, the events after it (at most `limit`),
    the user's settings and custom exercises, and the stored state of the workouts and exercises the
    events name (read from their JSON), in one round trip; None when their stream is gone.

    One statement has one snapshot, taken before the checkpoint's lock is waited for: events
    committed meanwhile wait for the next batch (their pending marks stay), and nobody else moves this
    checkpoint, since the batch holds the user's lock and lease already."""
    row = await connection.fetchrow(_START_BATCH, user_id, limit)
    if row is None:
        return None
    settings = (
        UserSettings(**{column: row[column] for column in SETTINGS_COLUMNS})
        if row["found"]
        else UserSettings()
    )
    return BatchStart(
        version=row["version"],
        parked_version=row["parked_version"],
        events=[(e[0], e[1], e[2], e[3]) for e in row["events"]],
        settings=settings,
        custom=custom_of(row["custom"]),
        before=_before_of(row),
    )


_WORKOUT_EVENTS = ", ".join(f"'{kind.__name__}'" for kind in (WorkoutLogged, WorkoutAmended, WorkoutDeleted))
#: The workouts the batch's events name and the exercises their new versions log, read from their JSON
#: without ever failing on it: an event the code cannot decode fails its batch there (and parks the user).
_UUID_TEXT = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_NAMED = f"""
    SELECT (payload->>'workoutId')::uuid FROM e
    WHERE type IN ({_WORKOUT_EVENTS}) AND payload->>'workoutId' ~ '{_UUID_TEXT}'
"""  # noqa: S608
_LOGGED = f"""
    SELECT x #>> '{{}}' FROM e, jsonb_path_query(payload, '$.workout.exercises[*].exerciseId') x
    WHERE type IN ('{WorkoutLogged.__name__}', '{WorkoutAmended.__name__}')
"""  # noqa: S608

_START_BATCH = f"""
    WITH c AS (
        INSERT INTO projection_checkpoints AS c (user_id)
        SELECT $1 WHERE EXISTS (SELECT 1 FROM streams WHERE user_id = $1)
        ON CONFLICT (user_id) DO UPDATE SET version = c.version
        RETURNING version, parked_version
    ),
    e AS (
        SELECT e.version, e.type, e.payload, e.occurred_at FROM events e, c
        WHERE e.user_id = $1 AND e.version > c.version ORDER BY e.version LIMIT $2
    )
    SELECT c.version, c.parked_version,
        ARRAY(SELECT ROW(e.version, e.type, e.payload, e.occurred_at) FROM e ORDER BY e.version) AS events,
        s.user_id IS NOT NULL AS found, {", ".join(f"s.{column}" for column in SETTINGS_COLUMNS)},
        (SELECT array_agg(body) FROM rm_custom_exercises WHERE user_id = $1) AS custom,
        {_before_columns(_NAMED, _LOGGED)}
    FROM c LEFT JOIN rm_user_settings s ON s.user_id = $1
"""  # noqa: S608 - names from the code


async def write_workouts(
    connection: asyncpg.Connection, user_id: uuid.UUID, workouts: Mapping[uuid.UUID, WorkoutRows | None]
) -> None:
    """`workouts_part`, written at once."""
    await statements.execute(connection, [workouts_part(user_id, workouts)])


def workouts_part(
    user_id: uuid.UUID, workouts: Mapping[uuid.UUID, WorkoutRows | None]
) -> statements.Part | None:
    """Each workout as a batch leaves it (None: deleted), to write (projections/statements.py): its
    summary, document and exercise sessions, in one statement whatever the number of workouts. The
    rows a workout no longer has are deleted and the others upserted: disjoint rows, so the parts
    cannot collide."""
    if not workouts:
        return None
    kept = [rows for rows in workouts.values() if rows is not None]
    sessions = [session for rows in kept for session in rows.sessions]
    return statements.Part(
        ctes=[
            (
                "gone_sessions",
                """
            DELETE FROM rm_exercise_sessions WHERE user_id = $1 AND workout_id = ANY($2::uuid[])
                AND (exercise_id, started_at, workout_id)
                    NOT IN (SELECT * FROM unnest($10::text[], $12::timestamptz[], $11::uuid[]))
                """,
            ),
            (
                "gone_summaries",
                """
            DELETE FROM rm_workout_summaries WHERE user_id = $1 AND workout_id = ANY($3::uuid[])
                """,
            ),
            (
                "gone_documents",
                """
            DELETE FROM rm_workout_documents WHERE user_id = $1 AND workout_id = ANY($3::uuid[])
                """,
            ),
            (
                "summaries_kept",
                """
            INSERT INTO rm_workout_summaries (user_id, workout_id, started_at, body)
            SELECT $1, * FROM unnest($4::uuid[], $5::timestamptz[], $6::bytea[])
            ON CONFLICT (user_id, workout_id) DO UPDATE
                SET started_at = EXCLUDED.started_at, body = EXCLUDED.body
                """,
            ),
            (
                "documents_kept",
                """
            INSERT INTO rm_workout_documents (user_id, workout_id, workout_version, source, body)
            SELECT $1, * FROM unnest($4::uuid[], $7::int[], $8::bytea[], $9::bytea[])
            ON CONFLICT (user_id, workout_id) DO UPDATE SET workout_version = EXCLUDED.workout_version,
                source = EXCLUDED.source, body = EXCLUDED.body
                """,
            ),
            # A session's volume is stored as `core.units.as_entered` reads the float: bound as float8 (a
            # Decimal costs the drain four times as much to bind) and made numeric here from the shortest
            # text that reads back as the same float (Postgres prints float8 so since version 12, as
            # Python's repr does), with at least one decimal (repr's `1000.0`).
            (
                "sessions_kept",
                """
        INSERT INTO rm_exercise_sessions (user_id, exercise_id, workout_id, started_at, body, working_sets,
            volume_kg, heaviest_kg, e1rm_kg, most_reps, best_set_volume_kg, measured)
        SELECT $1, s.exercise_id, s.workout_id, s.started_at, s.body, s.working_sets,
            round(entered.n, greatest(scale(entered.n), 1)),
            s.heaviest_kg, s.e1rm_kg, s.most_reps, s.best_set_volume_kg, true
        FROM unnest($10::text[], $11::uuid[], $12::timestamptz[], $13::bytea[], $14::int[], $15::float8[],
            $16::float8[], $17::float8[], $18::int[], $19::float8[])
            AS s(exercise_id, workout_id, started_at, body, working_sets, volume_kg, heaviest_kg, e1rm_kg,
                most_reps, best_set_volume_kg),
            LATERAL (SELECT s.volume_kg::text::numeric AS n) AS entered
        ON CONFLICT (user_id, exercise_id, started_at, workout_id) DO UPDATE
            SET body = EXCLUDED.body, working_sets = EXCLUDED.working_sets, volume_kg = EXCLUDED.volume_kg,
                heaviest_kg = EXCLUDED.heaviest_kg, e1rm_kg = EXCLUDED.e1rm_kg,
                most_reps = EXCLUDED.most_reps, best_set_volume_kg = EXCLUDED.best_set_volume_kg,
                measured = true
                """,
            ),
        ],
        args=[
            user_id,
            list(workouts),
            [workout_id for workout_id, rows in workouts.items() if rows is None],
            [rows.summary.id for rows in kept],
            [rows.summary.started_at for rows in kept],
            [ENCODER.encode(rows.summary) for rows in kept],
            [rows.document.version for rows in kept],
            [pack(rows.source) for rows in kept],
            [pack(ENCODER.encode(rows.document)) for rows in kept],
            [s.exercise_id for s in sessions],
            [s.workout_id for s in sessions],
            [s.started_at for s in sessions],
            [pack(ENCODER.encode(s)) for s in sessions],
            [s.working_sets or 0 for s in sessions],
            [s.volume_kg for s in sessions],  # as entered, made numeric above
            # what records are the best of (records.py), for `records_from`
            [s.heaviest_kg for s in sessions],
            [s.e1rm_kg for s in sessions],
            [s.most_reps for s in sessions],
            [s.best_set_volume_kg for s in sessions],
        ],
    )


async def load_summaries(connection: asyncpg.Connection, user_id: uuid.UUID) -> list[WorkoutSummary]:
    rows = await connection.fetch("SELECT body FROM rm_workout_summaries WHERE user_id = $1", user_id)
    return [SUMMARY_DECODER.decode(row["body"]) for row in rows]


async def workout_sources(
    connection: asyncpg.Connection, user_id: uuid.UUID
) -> list[tuple[uuid.UUID, int, bytes]]:
    """Every workout's id, version and body as logged: what documents are derived from."""
    rows = await connection.fetch(
        "SELECT workout_id, workout_version, source FROM rm_workout_documents WHERE user_id = $1", user_id
    )
    return [(row["workout_id"], row["workout_version"], unpack(row["source"])) for row in rows]


async def replace_weeks(
    connection: asyncpg.Connection, user_id: uuid.UUID, weeks: Mapping[date, WeekTotals]
) -> None:
    """The user's weekly totals, all of them anew (after a new timezone or week start)."""
    await connection.execute("DELETE FROM rm_weekly_totals WHERE user_id = $1", user_id)
    await connection.executemany(
        """
        INSERT INTO rm_weekly_totals (user_id, week_start, workouts, sets, volume_kg, duration_s)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        [
            (user_id, week, t.workouts, t.sets, as_entered(t.volume_kg), t.duration_s)
            for week, t in weeks.items()
            if t.workouts > 0
        ],
    )


def weeks_part(user_id: uuid.UUID, deltas: Mapping[date, WeekTotals]) -> statements.Part | None:
    """Each week's change added to its totals, to write (projections/statements.py); a week left
    without workouts loses its row once the statement answered (a second round trip, only then)."""
    changed = [(week, t) for week, t in sorted(deltas.items()) if t != ZERO]
    if not changed:
        return None

    async def drop_emptied(connection: asyncpg.Connection, row: asyncpg.Record) -> None:
        if row["weeks_emptied"]:
            await connection.execute(
                "DELETE FROM rm_weekly_totals WHERE user_id = $1 AND week_start = ANY($2::date[])",
                user_id,
                row["weeks_emptied"],
            )

    return statements.Part(
        ctes=[
            (
                "weeks_added",
                """
                INSERT INTO rm_weekly_totals AS t (user_id, week_start, workouts, sets, volume_kg, duration_s)
                SELECT $1, * FROM unnest($2::date[], $3::int[], $4::int[], $5::numeric[], $6::bigint[])
                ON CONFLICT (user_id, week_start) DO UPDATE SET workouts = t.workouts + EXCLUDED.workouts,
                    sets = t.sets + EXCLUDED.sets, volume_kg = t.volume_kg + EXCLUDED.volume_kg,
                    duration_s = t.duration_s + EXCLUDED.duration_s
                RETURNING week_start, workouts
                """,
            )
        ],
        args=[
            user_id,
            [week for week, _ in changed],
            [t.workouts for _, t in changed],
            [t.sets for _, t in changed],
            [as_entered(t.volume_kg) for _, t in changed],
            [t.duration_s for _, t in changed],
        ],
        columns=[("weeks_emptied", "SELECT array_agg(week_start) FROM weeks_added WHERE workouts <= 0")],
        after=drop_emptied,
    )


def dashboard_part(
    user_id: uuid.UUID, dashboard: Dashboard, *, version: int, rollover_at: datetime
) -> statements.Part:
    """The user's dashboard as written (projections/statements.py)."""
    return statements.Part(
        ctes=[
            (
                "dashboard",
                """
                INSERT INTO rm_dashboards (user_id, version, as_of, rollover_at, body)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, as_of = EXCLUDED.as_of,
                    rollover_at = EXCLUDED.rollover_at, body = EXCLUDED.body
                """,
            )
        ],
        args=[user_id, version, dashboard.as_of, rollover_at, ENCODER.encode(dashboard)],
    )


def _rows_part(user_id: uuid.UUID, name: str, sql: str, *columns: Sequence[object]) -> statements.Part | None:
    """One expression over some rows given column by column (`$2`, `$3`, ...), None when there are none."""
    if not columns[0]:
        return None
    return statements.Part(ctes=[(name, sql)], args=[user_id, *columns])


def library_parts(user_id: uuid.UUID, library: Library) -> list[statements.Part | None]:
    """A batch's library rows as it leaves them (projections/library.py), to write
    (projections/statements.py): upserts and deletions of disjoint rows, one expression per kind
    that has any."""
    defined = [(id_, row) for id_, row in library.exercises.items() if row.view is not None]
    deleted = [(id_, row) for id_, row in library.exercises.items() if row.view is None]
    routines = [routine for routine in library.routines.values() if routine is not None]
    weights = [entry for entry in library.bodyweights.values() if entry is not None]
    follows = [entry for entry in library.follows.values() if entry is not None]
    return [
        _rows_part(
            user_id,
            "exercises_kept",
            """
            INSERT INTO rm_custom_exercises (user_id, exercise_id, version, deleted, body)
            SELECT $1, * FROM unnest($2::uuid[], $3::int[], $4::bool[], $5::bytea[])
            ON CONFLICT (user_id, exercise_id) DO UPDATE SET version = EXCLUDED.version,
                deleted = EXCLUDED.deleted, body = EXCLUDED.body
            """,
            [id_ for id_, _ in defined],
            [row.version for _, row in defined],
            [row.deleted for _, row in defined],
            [ENCODER.encode(row.view) for _, row in defined],
        ),
        # Deleted only: the row stays, so workouts that used it keep its name.
        _rows_part(
            user_id,
            "exercises_deleted",
            """
            UPDATE rm_custom_exercises x SET deleted = true, version = d.version
            FROM unnest($2::uuid[], $3::int[]) AS d(exercise_id, version)
            WHERE x.user_id = $1 AND x.exercise_id = d.exercise_id
            """,
            [id_ for id_, _ in deleted],
            [row.version for _, row in deleted],
        ),
        _rows_part(
            user_id,
            "routines_kept",
            """
            INSERT INTO rm_routines (user_id, routine_id, version, name, body)
            SELECT $1, * FROM unnest($2::uuid[], $3::int[], $4::text[], $5::bytea[])
            ON CONFLICT (user_id, routine_id) DO UPDATE SET version = EXCLUDED.version,
                name = EXCLUDED.name, body = EXCLUDED.body
            """,
            [routine.id for routine in routines],
            [routine.version for routine in routines],
            [routine.name for routine in routines],
            [ENCODER.encode(routine) for routine in routines],
        ),
        _rows_part(
            user_id,
            "routines_gone",
            "DELETE FROM rm_routines WHERE user_id = $1 AND routine_id = ANY($2::uuid[])",
            [id_ for id_, routine in library.routines.items() if routine is None],
        ),
        _rows_part(
            user_id,
            "bodyweights_kept",
            """
            INSERT INTO rm_bodyweights (user_id, day, body) SELECT $1, * FROM unnest($2::date[], $3::bytea[])
            ON CONFLICT (user_id, day) DO UPDATE SET body = EXCLUDED.body
            """,
            [entry.date for entry in weights],
            [ENCODER.encode(entry) for entry in weights],
        ),
        _rows_part(
            user_id,
            "bodyweights_gone",
            "DELETE FROM rm_bodyweights WHERE user_id = $1 AND day = ANY($2::date[])",
            [day for day, entry in library.bodyweights.items() if entry is None],
        ),
        _rows_part(
            user_id,
            "follows_kept",
            """
            INSERT INTO rm_follows (user_id, followee_id, followed_at, body)
            SELECT $1, * FROM unnest($2::uuid[], $3::timestamptz[], $4::bytea[])
            ON CONFLICT (user_id, followee_id) DO UPDATE SET followed_at = EXCLUDED.followed_at,
                body = EXCLUDED.body
            """,
            [entry.user_id for entry in follows],
            [entry.followed_at for entry in follows],
            [ENCODER.encode(entry) for entry in follows],
        ),
        _rows_part(
            user_id,
            "follows_gone",
            "DELETE FROM rm_follows WHERE user_id = $1 AND followee_id = ANY($2::uuid[])",
            [id_ for id_, entry in library.follows.items() if entry is None],
        ),
    ]


async def exercise_sessions(
    connection: asyncpg.Connection, user_id: uuid.UUID, exercise_ids: Iterable[str]
) -> dict[str, list[ExerciseSession]]:
    """The whole history of each of `exercise_ids` (an exercise without sessions is left out)."""
    rows = await connection.fetch(
        """
        SELECT exercise_id, body FROM rm_exercise_sessions
        WHERE user_id = $1 AND exercise_id = ANY($2::text[])
        """,
        user_id,
        sorted(exercise_ids),
    )
    found: dict[str, list[ExerciseSession]] = {}
    for row in rows:
        found.setdefault(row["exercise_id"], []).append(SESSION_DECODER.decode(unpack(row["body"])))
    return found


#: The column of rm_exercise_sessions each record (records.RECORD_NAMES) is the best of.
BEST_COLUMNS = {
    "heaviestWeightKg": "heaviest_kg",
    "bestE1rmKg": "e1rm_kg",
    "mostReps": "most_reps",
    "bestSetVolumeKg": "best_set_volume_kg",
    "bestSessionVolumeKg": "volume_kg",
}
assert tuple(BEST_COLUMNS) == RECORD_NAMES


@dataclass(frozen=True, slots=True)
class HistoryFrom:
    """An exercise's sessions before a point, as records see them, and those from the point on."""

    sessions: int  # before the point
    unmeasured: int  # of those, rows without their bests' columns (written before they existed)
    holders: dict[str, ExerciseSession]  # by record name: the first session before the point to hold it
    later: list[ExerciseSession]  # from the point on, in history order


_BEFORE = (
    "s.user_id = $1 AND s.exercise_id = p.exercise_id"
    " AND (s.started_at, s.workout_id) < (p.started_at, p.workout_id)"
)
_HISTORY_FROM = f"""
    SELECT p.exercise_id, b.sessions, b.unmeasured,
        {
    ", ".join(
        f"(SELECT s.body FROM rm_exercise_sessions s WHERE {_BEFORE} AND s.{column} > 0"
        f" ORDER BY s.{column} DESC, s.started_at, s.workout_id LIMIT 1) AS {column}"
        for column in BEST_COLUMNS.values()
    )
},
        ARRAY(
            SELECT s.body FROM rm_exercise_sessions s
            WHERE s.user_id = $1 AND s.exercise_id = p.exercise_id
                AND (s.started_at, s.workout_id) >= (p.started_at, p.workout_id)
            ORDER BY s.started_at, s.workout_id
        ) AS later
    FROM unnest($2::text[], $3::timestamptz[], $4::uuid[]) AS p(exercise_id, started_at, workout_id)
    CROSS JOIN LATERAL (
        SELECT count(*) AS sessions, count(*) FILTER (WHERE NOT s.measured) AS unmeasured
        FROM rm_exercise_sessions s WHERE {_BEFORE}
    ) AS b
"""  # noqa: S608 - column names of this module's own


async def history_from(
    connection: asyncpg.Connection, user_id: uuid.UUID, points: Mapping[str, Latest]
) -> dict[str, HistoryFrom]:
    """For each exercise, its history around `points[exercise]` (a start and a workout id, in the order
    records are reckoned in), in one round trip: Postgres finds the holders of the records before the
    point by the sessions' columns, and only the sessions from the point on are read."""
    exercise_ids = sorted(points)
    rows = await connection.fetch(
        _HISTORY_FROM,
        user_id,
        exercise_ids,
        [points[exercise_id][0] for exercise_id in exercise_ids],
        [points[exercise_id][1] for exercise_id in exercise_ids],
    )
    return {
        row["exercise_id"]: HistoryFrom(
            sessions=row["sessions"],
            unmeasured=row["unmeasured"],
            holders={
                name: SESSION_DECODER.decode(unpack(row[column]))
                for name, column in BEST_COLUMNS.items()
                if row[column] is not None
            },
            later=[SESSION_DECODER.decode(unpack(body)) for body in row["later"]],
        )
        for row in rows
    }


def records_part(user_id: uuid.UUID, records: Mapping[str, RecordsDetail | None]) -> statements.Part | None:
    """Exercises' records as written; None (no sessions left) removes them (projections/statements.py)."""
    if not records:
        return None
    gone = sorted(exercise_id for exercise_id, detail in records.items() if detail is None)
    kept = sorted((exercise_id, detail) for exercise_id, detail in records.items() if detail is not None)
    return statements.Part(
        ctes=[
            ("records_gone", "DELETE FROM rm_records WHERE user_id = $1 AND exercise_id = ANY($2::text[])"),
            (
                "records_kept",
                """
                INSERT INTO rm_records (user_id, exercise_id, summary, detail)
                SELECT $1, * FROM unnest($3::text[], $4::bytea[], $5::bytea[])
                ON CONFLICT (user_id, exercise_id)
                    DO UPDATE SET summary = EXCLUDED.summary, detail = EXCLUDED.detail
                """,
            ),
        ],
        args=[
            user_id,
            gone,
            [exercise_id for exercise_id, _ in kept],
            [ENCODER.encode(summary_of(detail)) for _, detail in kept],
            [ENCODER.encode(detail) for _, detail in kept],
        ],
    )


async def save_session_records(
    connection: asyncpg.Connection, user_id: uuid.UUID, sessions: Sequence[ExerciseSession]
) -> None:
    """Store sessions whose record marks changed."""
    if not sessions:
        return
    await connection.executemany(
        """
        UPDATE rm_exercise_sessions SET body = $5
        WHERE user_id = $1 AND exercise_id = $2 AND started_at = $3 AND workout_id = $4
        """,
        [(user_id, s.exercise_id, s.started_at, s.workout_id, pack(ENCODER.encode(s))) for s in sessions],
    )


async def mark_workout_records(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    marks: Mapping[uuid.UUID, Mapping[str, list[RecordMark]]],
) -> set[uuid.UUID]:
    """Put the records each workout set in `marks`' exercises into its feed entry and document, in two
    round trips whatever their number; the workouts that changed."""
    if not marks:
        return set()
    rows = await connection.fetch(
        """
        SELECT s.workout_id, s.body AS summary, d.body AS document
        FROM unnest($2::uuid[]) AS w(workout_id)
        JOIN rm_workout_summaries s ON s.user_id = $1 AND s.workout_id = w.workout_id
        JOIN rm_workout_documents d ON d.user_id = $1 AND d.workout_id = w.workout_id
        """,
        user_id,
        list(marks),
    )
    changed: list[tuple[uuid.UUID, uuid.UUID, bytes, bytes]] = []
    for row in rows:
        summary = SUMMARY_DECODER.decode(row["summary"])
        document = DOCUMENT_DECODER.decode(unpack(row["document"]))
        marked_summary, marked_document = with_marks(summary, document, marks[row["workout_id"]])
        if marked_summary.records != summary.records:
            changed.append(
                (
                    user_id,
                    row["workout_id"],
                    ENCODER.encode(marked_summary),
                    pack(ENCODER.encode(marked_document)),
                )
            )
    if changed:
        await connection.executemany(
            """
            WITH summary AS (
                UPDATE rm_workout_summaries SET body = $3 WHERE user_id = $1 AND workout_id = $2
            )
            UPDATE rm_workout_documents SET body = $4 WHERE user_id = $1 AND workout_id = $2
            """,
            changed,
        )
    return {workout_id for _, workout_id, _, _ in changed}


def advance_part(
    user_id: uuid.UUID,
    version: int,
    changed: Iterable[str],
    *,
    fence: tuple[str, int],
    move: bool,
) -> statements.Part:
    """End a projection batch, in its transaction: note in the outbox the read-model keys it changed,
    drop the user's pending marks up to `version` and, when `move`, set the checkpoint to `version`,
    but only while the lease `fence` (owner, token) still holds, and hand the lease back (it is handed
    back when the batch commits). Answers `fenced`, false when the lease did not hold: the batch must
    not commit."""
    owner, token = fence
    return statements.Part(
        ctes=[
            ("released", f"{leases.hand_back('$4', '$5')} RETURNING true"),
            (
                "changed",
                """
                INSERT INTO projection_outbox (user_id, key, version)
                SELECT $1, key, $2 FROM unnest($3::text[]) key
                ON CONFLICT (user_id, key) DO UPDATE SET version = EXCLUDED.version, change = EXCLUDED.change
                """,
            ),
            ("done", "DELETE FROM projection_pending WHERE user_id = $1 AND version <= $2"),
            (
                "moved",
                """
                UPDATE projection_checkpoints SET version = $2, failures = 0 WHERE $6 AND user_id = $1
                RETURNING true
                """,
            ),
        ],
        args=[user_id, version, sorted(changed), owner, token, move],
        columns=[("fenced", "EXISTS (SELECT 1 FROM released) AND (NOT $6 OR EXISTS (SELECT 1 FROM moved))")],
    )


async def pending_changes(connection: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, int]:
    """The keys in the outbox not yet synced, each with its change number."""
    rows = await connection.fetch("SELECT key, change FROM projection_outbox WHERE user_id = $1", user_id)
    return {row["key"]: row["change"] for row in rows}


@dataclass(frozen=True, slots=True)
class SyncSnapshot:
    """What a Redis sync writes, read in one statement (so from one snapshot, with no transaction)."""

    version: int  # projected
    synced: int  # the user's documents in Redis
    #: The outbox's pending keys with their change numbers.
    changes: dict[str, int]
    #: The workouts the outbox names: (id, version, still there, its packed body when in the hot set).
    workouts: list[tuple[uuid.UUID, int | None, bool, bytes | None]]
    #: Workouts the named ones pushed out of the hot set.
    pushed_out: set[uuid.UUID]
    #: When a named workout left the hot set (deleted, or moved back in time), the hot set's last
    #: places, where what came into it in its place lies: (id, version, packed body).
    refill: list[tuple[uuid.UUID, int, bytes]]
    #: The dashboard (version, as of, body, the user's zone) when the outbox names it.
    dashboard: tuple[int, date, bytes, str | None] | None
    #: The user's leaderboard rows Redis has not seen: (board, key, version, score or None).
    scores: list[tuple[str, str, int, float | None]]
    #: The feed's first rows (workout id, start, summary) when the version moved: one more than a page.
    feed: list[tuple[uuid.UUID, datetime, bytes]] | None


async def sync_snapshot(
    connection: asyncpg.Connection, user_id: uuid.UUID, *, hot_workouts: int, page_size: int
) -> SyncSnapshot | None:
    """Everything a sync writes, in one round trip; None when the user has no checkpoint."""
    row = await connection.fetchrow(
        _SYNC_SNAPSHOT, user_id, hot_workouts, page_size + 1, outbox.WORKOUT, outbox.DASHBOARD
    )
    if row is None:
        return None
    return SyncSnapshot(
        version=row["version"],
        synced=row["redis_version"],
        changes=dict(zip(row["keys"] or (), row["changes"] or (), strict=True)),
        workouts=[(w[0], w[1], w[2], w[3]) for w in row["workouts"] or ()],
        pushed_out=set(row["pushed_out"] or ()),
        refill=[(w[0], w[1], w[2]) for w in row["refill"] or ()],
        dashboard=(
            (row["dashboard_version"], row["dashboard_as_of"], row["dashboard"], row["zone"])
            if row["dashboard"] is not None
            else None
        ),
        scores=[(s[0], s[1], s[2], s[3]) for s in row["scores"] or ()],
        feed=[(f[0], f[1], f[2]) for f in row["feed"]] if row["feed"] is not None else None,
    )


# Workouts: those the outbox names; the hot set: the most recent `$2`, taken among as many more as
# there are named ones (those are what a new one can push out), and only when one is named.
_SYNC_SNAPSHOT = """
    WITH c AS (
        SELECT version, redis_version FROM projection_checkpoints WHERE user_id = $1
    ), o AS (
        SELECT key, change FROM projection_outbox WHERE user_id = $1
    ), named AS (
        SELECT DISTINCT split_part(key, ':', 2)::uuid AS workout_id FROM o
        WHERE split_part(key, ':', 1) = $4
    ), recent AS (
        SELECT workout_id, row_number() OVER (ORDER BY started_at DESC, workout_id DESC) AS place
        FROM rm_workout_summaries WHERE user_id = $1
        ORDER BY started_at DESC, workout_id DESC
        LIMIT CASE WHEN EXISTS (SELECT 1 FROM named) THEN $2 + (SELECT count(*) FROM named) ELSE 0 END
    )
    SELECT c.version, c.redis_version,
        (SELECT array_agg(key) FROM o) AS keys,
        (SELECT array_agg(change) FROM o) AS changes,
        (SELECT array_agg(ROW(n.workout_id, d.workout_version, d.workout_id IS NOT NULL,
                CASE WHEN r.place <= $2 THEN d.body END))
            FROM named n
            LEFT JOIN rm_workout_documents d ON d.user_id = $1 AND d.workout_id = n.workout_id
            LEFT JOIN recent r ON r.workout_id = n.workout_id) AS workouts,
        (SELECT array_agg(workout_id) FROM recent WHERE place > $2) AS pushed_out,
        CASE WHEN EXISTS (
            SELECT 1 FROM named n LEFT JOIN recent r USING (workout_id) WHERE r.place IS NULL OR r.place > $2
        ) THEN (
            SELECT array_agg(ROW(r.workout_id, d.workout_version, d.body))
            FROM recent r JOIN rm_workout_documents d ON d.user_id = $1 AND d.workout_id = r.workout_id
            -- what came in lies among the last as many places as there are named ones
            WHERE r.place <= $2 AND r.place > $2 - (SELECT count(*) FROM named)
                AND r.workout_id NOT IN (SELECT workout_id FROM named)
        ) END AS refill,
        d.version AS dashboard_version, d.as_of AS dashboard_as_of, d.body AS dashboard,
        (SELECT timezone FROM rm_user_settings WHERE user_id = $1) AS zone,
        (SELECT array_agg(ROW(s.board, s.board_key, s.version,
                CASE WHEN u.leaderboard_opt_in THEN s.score END))
            FROM rm_leaderboard_scores s JOIN rm_user_settings u ON u.user_id = s.user_id
            WHERE s.user_id = $1 AND s.version > c.redis_version) AS scores,
        CASE WHEN c.version > c.redis_version THEN ARRAY(
            SELECT ROW(workout_id, started_at, body) FROM rm_workout_summaries WHERE user_id = $1
            ORDER BY started_at DESC, workout_id DESC LIMIT $3
        ) END AS feed
    FROM c
    LEFT JOIN rm_dashboards d ON d.user_id = $1 AND EXISTS (SELECT 1 FROM o WHERE key = $5)
"""


#: Removes what a sync wrote from the outbox, unless the key changed again since it read the outbox.
_CLEAR_CHANGES = """
    DELETE FROM projection_outbox o USING unnest($2::text[], $3::bigint[]) AS s(key, change)
    WHERE o.user_id = $1 AND o.key = s.key AND o.change = s.change
"""


async def mark_synced(
    connection: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    version: int,
    written: Mapping[str, int],
) -> bool:
    """After a sync wrote `version` to Redis: clear what it wrote from the outbox (unless changed again
    since) and note the version synced, in one round trip. False when the user's checkpoint is gone
    (the account was erased meanwhile)."""
    still_there: bool | None = await connection.fetchval(
        f"""
        WITH cleared AS ({_CLEAR_CHANGES})
        UPDATE projection_checkpoints SET redis_version = GREATEST(redis_version, $4) WHERE user_id = $1
        RETURNING true
        """,  # noqa: S608
        user_id,
        list(written),
        list(written.values()),
        version,
    )
    return bool(still_there)
