"""The projection runner: applies a user's new events to the read models exactly once, in order.

Under the user's lease (projections/leases.py) and in one transaction, a batch reads the checkpoint,
the events after it and the stored state they name in one statement (store.start_batch), applies
the pure projectors in memory (projections/batch.py), then writes the rm_* rows in bulk, the last
statement advancing the checkpoint and handing the lease back. A duplicate or redelivered message
finds nothing to do. Redis is synced afterwards, from the outbox (projections/sync.py).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import msgspec
import structlog
from redis.asyncio import Redis

from commands.events import EVENT_DECODER, Workout, WorkoutAmended, WorkoutLogged
from core import clock
from core.db import session_changed
from core.faults import fault_point
from core.locks import REBUILD_GATE_KEY, projection_lock_key
from core.redis import Keys
from projections import analytics, leaderboards, leases, metrics, outbox, readers, statements, store
from projections.batch import (
    WORKOUT_EVENTS,
    Batch,
    RecordsWork,
    WorkoutRows,
    apply,
    mark_in_batch,
    records_kept,
)
from projections.dashboard import next_rollover, rebucket
from projections.records import records_before, sessions_of
from projections.sync import HOT_WORKOUTS, sync_redis
from projections.workouts import Figures, document, summarize

log = structlog.get_logger(__name__)

WORKOUT_DECODER = msgspec.json.Decoder(Workout)
#: Where a rebuild projects (projections/rebuild.py creates it): unqualified rm_* and bookkeeping
#: names resolve there first.
SHADOW_SCHEMA = "ironlog_rebuild"


class ProjectionFailed(Exception):
    """A projector raised; the message is retried with backoff until the user is parked."""

    def __init__(self, message: str, version: int | None) -> None:
        super().__init__(message)
        self.version = version


@dataclass(frozen=True)
class RunnerSettings:
    batch_size: int = 200
    max_failures: int = 5
    lease_s: float = 10.0  # how long a batch's lease lasts; past it another may take the user over
    lease_wait_s: float = 5.0  # how long to wait for another's lease before giving up (retried)
    hot_workouts: int = HOT_WORKOUTS  # the most recent workout documents the sync keeps in Redis


class LeaseBusy(Exception):
    """Another projection kept the user's lease for longer than we wait: retry later."""


@dataclass
class Outcome:
    """What one `project_user` call did."""

    applied: int = 0
    version: int = 0
    parked: bool = False
    synced: bool = False
    interrupted: bool = False  # stopped between two batches with events still to apply


def lock_key(user_id: uuid.UUID) -> int:
    """The advisory lock that serialises projection of one user (never the streams row)."""
    return projection_lock_key(user_id)


async def _finish(
    connection: asyncpg.Connection, batch: Batch, version: int, now: datetime
) -> list[statements.Part | None]:
    """Write what depends on the whole batch (weekly totals, re-derived documents, record marks); and
    what it then has to write of records, scores, the dashboard and the activity, to be written in one
    statement with the checkpoint (projections/statements.py)."""
    settings = batch.settings
    work = RecordsWork()
    exercises = sorted(batch.touched_exercises)
    # Newly logged sessions later than their exercise's last record (the latest, the common case; or
    # logged late) update the stored records by themselves, in order (a drain's batch holds many of
    # one exercise), and the records they set are marked on their workouts before these are written.
    appended = {
        exercise_id: sorted(new, key=lambda session: (session.started_at, session.workout_id))
        for exercise_id in exercises
        if exercise_id not in batch.recomputed and (new := batch.appended.get(exercise_id))
    }
    if batch.reformulated:  # every session is derived anew: every exercise's whole history
        appended = {}
    kept = records_kept(batch, appended)
    whole = [
        exercise_id
        for exercise_id in exercises
        if exercise_id not in kept
        and not batch.unchanged_records(exercise_id)
        and (
            exercise_id not in appended
            or not work.append(
                batch,
                appended[exercise_id],
                batch.records_before[exercise_id],
                batch.unmarked_removals.get(exercise_id, ()),
            )
        )
    ]
    work.records.update(kept)
    mark_in_batch(batch, work)
    # In one statement: the settings, the library, the workouts, the weeks they changed (unless the
    # weeks are all bucketed anew) and the registration; all that the reads below read.
    weeks = None if batch.rebucketed else store.weeks_part(batch.user_id, batch.week_deltas)
    written = await statements.execute(
        connection,
        [
            store.settings_part(batch.user_id, settings) if batch.settings_changed else None,
            *store.library_parts(batch.user_id, batch.library),
            store.workouts_part(batch.user_id, batch.workouts),
            weeks,
            analytics.sign_up_part(batch.user_id, batch.registered_at),
        ],
    )
    if batch.rebucketed:
        summaries = await store.load_summaries(connection, batch.user_id)
        rebucketed = rebucket(summaries, settings.timezone, batch.week_start)
        await store.replace_weeks(connection, batch.user_id, rebucketed)
    if batch.reformulated:
        rewritten: dict[uuid.UUID, WorkoutRows | None] = {}
        for workout_id, workout_version, source in await store.workout_sources(connection, batch.user_id):
            workout = WORKOUT_DECODER.decode(source)
            figures = Figures(workout, batch.formula)
            summary = summarize(workout_id, workout_version, workout, figures)
            detail = document(
                workout_id, workout_version, workout, batch.formula, batch.name_of, figures=figures
            )
            sessions = sessions_of(workout_id, workout, batch.formula, figures)
            rewritten[workout_id] = WorkoutRows(summary, detail, source, sessions)
            batch.changed |= {outbox.workout(workout_id), outbox.FEED}
            touched = {session.exercise_id for session in sessions}
            batch.touched_exercises |= touched
            batch.recomputed |= touched
        await store.write_workouts(connection, batch.user_id, rewritten)
        whole = sorted(batch.touched_exercises)
    whole = await _replay_from_changes(connection, batch, work, whole)
    histories = await store.exercise_sessions(connection, batch.user_id, whole) if whole else {}
    for exercise_id in whole:
        work.recompute(batch, exercise_id, histories.get(exercise_id, []))
    for exercise_id in work.records:
        batch.changed |= {outbox.records(exercise_id), outbox.sessions(exercise_id)}
    await store.save_session_records(connection, batch.user_id, work.remarked)
    records, marks = work.records, work.marks
    for workout_id in await store.mark_workout_records(connection, batch.user_id, marks):
        batch.changed |= {outbox.workout(workout_id), outbox.FEED}
    # What the scores, the dashboard and the activity read of the rows just written, in one statement.
    read = await statements.execute(
        connection,
        [
            leaderboards.scores_reads(batch.user_id, batch.board_weeks, e1rm_scores=batch.bodyweight_changed),
            readers.dashboard_reads(batch.user_id, settings, now, with_custom=False),
            analytics.activity_reads(batch.user_id, batch.activity_days),
        ],
    )
    assert read is not None
    scores = leaderboards.scores_part(
        batch.user_id,
        version,
        read,
        weeks=batch.board_weeks,
        records=records,
        bodyweight_changed=batch.bodyweight_changed,
        opt_in_changed=batch.opt_in_changed,
    )
    dashboard = readers.dashboard_from(read, settings, now, batch.custom)
    batch.changed.add(outbox.DASHBOARD)
    # The activity, and the analytics counts' change as rows of its own (projections/analytics.py).
    activity = analytics.activity_part(
        batch.user_id,
        read,
        days=batch.activity_days,
        registered_at=batch.registered_at,
        signed_up=analytics.recorded_sign_up(written),
        count=not batch.shadow,
    )
    return [
        store.records_part(batch.user_id, records),
        scores,
        store.dashboard_part(
            batch.user_id, dashboard, version=version, rollover_at=next_rollover(now, settings.timezone)
        ),
        activity,
    ]


async def _replay_from_changes(
    connection: asyncpg.Connection, batch: Batch, work: RecordsWork, exercise_ids: list[str]
) -> list[str]:
    """Records of exercises whose history the batch changed before their last record (a record holder
    deleted or amended, a session logged before the last record): from the records held before the
    first session it changed, which Postgres finds by the sessions' columns, and the sessions from there
    on, replayed. The exercises that need their whole history read instead: after a formula switch
    (every session changed), or when a session before that point was written without those columns or
    the stored records disagree with the sessions."""
    points = {} if batch.reformulated else {e: p for e in exercise_ids if (p := batch.first_change(e))}
    found = await store.history_from(connection, batch.user_id, points) if points else {}
    whole = []
    for exercise_id in exercise_ids:
        history = found.get(exercise_id)
        stored, _ = batch.records_before.get(exercise_id, (None, None))
        if (
            history is None
            or history.unmeasured
            or exercise_id not in batch.records_before
            or (stored is None and history.sessions > 0)
        ):
            whole.append(exercise_id)
            continue
        point = points[exercise_id]
        before = records_before(
            exercise_id,
            batch.name_of(exercise_id),
            batch.measurement_of(exercise_id),
            sessions=history.sessions,
            holders=history.holders,
            timeline=[p for p in stored.timeline if (p.date, p.workout_id) < point] if stored else [],
        )
        work.replay(batch, exercise_id, before, history.later)
    return whole


async def _project_batch(
    connection: asyncpg.Connection,
    user_id: uuid.UUID,
    settings: RunnerSettings,
    now: datetime,
    *,
    refresh_dashboard: bool,
    shadow: bool,
    owner: str,
) -> tuple[int, int, bool, int | None]:
    """One batch under the user's lease; (events applied, checkpoint version, more to do, failing
    version or None)."""
    try:
        lease = await leases.acquire(connection, user_id, owner, settings.lease_s, settings.lease_wait_s)
    except asyncpg.ForeignKeyViolationError:
        return 0, 0, False, None  # the account is gone (erased): nothing to project
    if lease is None:
        raise LeaseBusy(f"the projection lease of {user_id} stayed held")
    released = False  # with the batch's commit (store.advance_part)
    try:
        applied, version, more, failing, released = await _project_leased(
            connection, lease, settings, now, refresh_dashboard=refresh_dashboard, shadow=shadow
        )
        return applied, version, more, failing
    finally:
        if not released:
            # A backend ended by a taker cannot hand back what is no longer ours anyway.
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await leases.release(connection, lease)


async def _project_leased(
    connection: asyncpg.Connection,
    lease: leases.Lease,
    settings: RunnerSettings,
    now: datetime,
    *,
    refresh_dashboard: bool,
    shadow: bool,
) -> tuple[int, int, bool, int | None, bool]:
    """(events applied, checkpoint version, more to do, failing version or None, lease handed back)."""
    user_id = lease.user_id
    failing: int | None = None
    async with connection.transaction():
        if shadow:  # unqualified rm_* names resolve to the shadow tables
            await connection.execute(f"SET LOCAL search_path = {SHADOW_SCHEMA}, public")
        # Erasure takes the user's lock to keep projection out while it deletes (before the lease
        # row, which its deletion locks too); a live projection holds the rebuild gate shared.
        await leases.hold(
            connection,
            lease,
            shared_lock=None if shadow else REBUILD_GATE_KEY,
            user_lock=lock_key(user_id),
        )
        start = await store.start_batch(connection, user_id, settings.batch_size)
        if start is None:  # the account is gone (erased)
            return 0, 0, False, None, False
        if start.parked_version is not None:
            return 0, start.version, False, start.parked_version, False
        rows = start.events
        if not rows and not refresh_dashboard:
            await connection.execute(
                "DELETE FROM projection_pending WHERE user_id = $1 AND version <= $2", user_id, start.version
            )
            return 0, start.version, False, None, False
        batch = Batch(user_id, start.settings, custom=start.custom, shadow=shadow)
        started = time.perf_counter()
        try:
            events = []
            for event_version, _, payload, _ in rows:
                failing = event_version
                events.append(EVENT_DECODER.decode(payload))
            failing = None
            named = list(dict.fromkeys(e.workout_id for e in events if isinstance(e, WORKOUT_EVENTS)))
            logged = sorted(
                {
                    entry.exercise_id
                    for e in events
                    if isinstance(e, WorkoutLogged | WorkoutAmended)
                    for entry in e.workout.exercises
                }
            )
            before = start.before  # read from the events' JSON: read again if the decoded ones name more
            if not before.covers(named, logged):
                before = await store.before_batch(connection, user_id, named, logged)
            batch.records_before = before.records
            for workout_id, (summary, sessions) in before.workouts.items():
                batch.summaries[workout_id] = summary
                batch.session_exercises[workout_id] = set(sessions)
                batch.stored_sessions[workout_id] = sessions
            for event, (event_version, _, _, occurred_at) in zip(events, rows, strict=True):
                failing = event_version
                apply(batch, event, occurred_at)
            failing = None
            version = rows[-1][0] if rows else start.version
            writes = await _finish(connection, batch, version, now)
            # Those writes, the outbox, the pending marks and the checkpoint in one statement. Fenced:
            # the checkpoint is written only while the lease is still this batch's (projections/leases.py).
            fence = (lease.owner, lease.token)
            ended = store.advance_part(user_id, version, batch.changed, fence=fence, move=bool(rows))
            answered = await statements.execute(connection, [*writes, ended])
            advanced = answered is not None and bool(answered["fenced"])
        except Exception as exc:
            raise ProjectionFailed(f"event {failing}: {exc!r}", failing) from exc
        if not advanced:
            raise leases.LeaseLost(f"the projection lease of {user_id} was taken")
        fault_point("mid_batch")
    fault_point("after_batch_commit")
    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    metrics.observe_projected(rows)
    return len(rows), version, len(rows) == settings.batch_size, None, True


async def _record_failure(
    pool: asyncpg.Pool, user_id: uuid.UUID, error: ProjectionFailed, settings: RunnerSettings, now: datetime
) -> bool:
    """Count a failure; park the user once there were too many. True when parked now."""
    async with pool.acquire() as connection, connection.transaction():
        failures: int = await connection.fetchval(
            """
            INSERT INTO projection_checkpoints (user_id, failures) VALUES ($1, 1)
            ON CONFLICT (user_id) DO UPDATE SET failures = projection_checkpoints.failures + 1
            RETURNING failures
            """,
            user_id,
        )
        if failures < settings.max_failures:
            return False
        await connection.execute(
            """
            UPDATE projection_checkpoints
            SET parked_version = COALESCE($3, version + 1), parked_error = $2, parked_at = $4
            WHERE user_id = $1
            """,
            user_id,
            str(error)[:2000],
            error.version,
            now,
        )
    return True


async def project_user(
    pool: asyncpg.Pool,
    redis: Redis,
    keys: Keys,
    user_id: uuid.UUID,
    *,
    settings: RunnerSettings | None = None,
    clock: Callable[[], datetime] = clock.now,
    refresh_dashboard: bool = False,
    shadow: bool = False,
    stopping: Callable[[], bool] | None = None,
) -> Outcome:
    """Bring the user's read models up to their stream, then their Redis documents.

    Raises ProjectionFailed (for a retry) while a projector keeps failing, until the user is parked.
    `refresh_dashboard` recomputes the dashboard even with no new events (its day has passed).
    `shadow` projects into the rebuild's shadow tables (schema `ironlog_rebuild`) and leaves Redis alone.
    `stopping`, once true, ends the work after the batch in hand (`Outcome.interrupted`): each batch
    commits with its checkpoint, so the rest is simply applied by the next call.
    """
    settings = settings or RunnerSettings()
    owner = leases.new_owner()
    outcome = Outcome()
    failed: ProjectionFailed | None = None
    # One connection for every batch and the sync: each acquisition costs the pool's reset round trip.
    async with pool.acquire() as connection:
        if shadow:  # the shadow's own leases too (reset when the connection goes back to the pool)
            session_changed(connection)
            await connection.execute(f"SET search_path = {SHADOW_SCHEMA}, public")
        more = True
        while more:
            try:
                applied, version, more, parked = await _project_batch(
                    connection,
                    user_id,
                    settings,
                    clock(),
                    refresh_dashboard=refresh_dashboard and outcome.applied == 0,
                    shadow=shadow,
                    owner=owner,
                )
            except ProjectionFailed as exc:
                if shadow:  # a rebuild stops at the first failure; the live read models stay as they are
                    raise
                failed = exc
                break
            outcome.applied += applied
            outcome.version = version
            if parked is not None:
                outcome.parked = True
                return outcome
            refresh_dashboard = False
            if more and stopping is not None and stopping():
                outcome.interrupted = True
                break
        if failed is None and not shadow:
            outcome.synced = await sync_redis(
                connection, redis, keys, user_id, hot_workouts=settings.hot_workouts
            )
    if failed is not None:  # on a connection of its own: the batch's may be what failed
        if await _record_failure(pool, user_id, failed, settings, clock()):
            metrics.PARKED.inc()
            log.error("projection_parked", user_id=str(user_id), error=str(failed))
            outcome.parked = True
            return outcome
        log.warning("projection_failed", user_id=str(user_id), error=str(failed))
        raise failed
    return outcome
