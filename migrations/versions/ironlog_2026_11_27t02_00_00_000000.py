"""The event log, workouts, projection bookkeeping and the first read models."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "event log, workouts, projection checkpoints, rm_workout_*, rm_weekly_totals, rm_dashboards"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    # One row per user: a command bumps `version` inside its transaction, which serialises
    # one user's writes and makes per-user version order equal commit order.
    """
    CREATE TABLE streams (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        version bigint NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE events (
        position bigserial PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        user_id uuid NOT NULL REFERENCES streams (user_id) ON DELETE CASCADE,
        version bigint NOT NULL,
        type text NOT NULL,
        schema_version integer NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        request_id text,
        UNIQUE (user_id, version)
    )
    """,
    """
    CREATE TABLE workouts (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        version integer NOT NULL,
        body_digest bytea,
        title text,
        started_at timestamptz,
        ended_at timestamptz,
        routine_id uuid,
        notes text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz
    )
    """,
    "CREATE INDEX workouts_by_user ON workouts (user_id, started_at DESC)",
    """
    CREATE TABLE workout_exercises (
        workout_id uuid NOT NULL REFERENCES workouts (id) ON DELETE CASCADE,
        position integer NOT NULL,
        exercise_id text NOT NULL,
        notes text,
        superset_group integer,
        PRIMARY KEY (workout_id, position)
    )
    """,
    """
    CREATE TABLE workout_sets (
        workout_id uuid NOT NULL,
        exercise_position integer NOT NULL,
        position integer NOT NULL,
        type text NOT NULL CHECK (type IN ('warmup', 'normal', 'drop', 'failure')),
        reps integer,
        weight_value numeric,
        weight_unit text CHECK (weight_unit IN ('kg', 'lb')),
        weight_kg numeric,
        duration_s integer,
        distance_m numeric,
        rpe numeric(3, 1),
        rir integer,
        completed boolean NOT NULL,
        PRIMARY KEY (workout_id, exercise_position, position),
        FOREIGN KEY (workout_id, exercise_position)
            REFERENCES workout_exercises (workout_id, position) ON DELETE CASCADE
    )
    """,
    # Projection bookkeeping: how far each user's read models are, and who is behind.
    """
    CREATE TABLE projection_checkpoints (
        user_id uuid PRIMARY KEY REFERENCES streams (user_id) ON DELETE CASCADE,
        version bigint NOT NULL DEFAULT 0,
        redis_version bigint NOT NULL DEFAULT 0,
        failures integer NOT NULL DEFAULT 0,
        parked_version bigint,
        parked_error text,
        parked_at timestamptz
    )
    """,
    # Users whose Redis documents are behind their read models, found without a full scan.
    """
    CREATE INDEX projection_checkpoints_redis_behind ON projection_checkpoints (user_id)
    WHERE redis_version < version
    """,
    "CREATE INDEX projection_checkpoints_parked ON projection_checkpoints (user_id) WHERE parked_version IS NOT NULL",
    # Commands upsert the stream version they wrote; the runner deletes the row once its
    # checkpoint reaches that version, in the same transaction. What is left is the backlog.
    """
    CREATE TABLE projection_pending (
        user_id uuid PRIMARY KEY REFERENCES streams (user_id) ON DELETE CASCADE,
        version bigint NOT NULL,
        since timestamptz NOT NULL DEFAULT clock_timestamp()
    )
    """,
    "CREATE INDEX projection_pending_by_age ON projection_pending (since)",
    # Read models (rebuildable from the event log). Documents are stored as served: JSON bytes.
    """
    CREATE TABLE rm_user_settings (
        user_id uuid PRIMARY KEY,
        handle text NOT NULL,
        display_name text NOT NULL,
        timezone text NOT NULL,
        week_start text NOT NULL,
        e1rm_formula text NOT NULL,
        unit text NOT NULL,
        leaderboard_opt_in boolean NOT NULL
    )
    """,
    """
    CREATE TABLE rm_workout_summaries (
        user_id uuid NOT NULL,
        workout_id uuid NOT NULL,
        started_at timestamptz NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, workout_id)
    )
    """,
    "CREATE INDEX rm_workout_summaries_feed ON rm_workout_summaries (user_id, started_at DESC, workout_id DESC)",
    """
    CREATE TABLE rm_workout_documents (
        user_id uuid NOT NULL,
        workout_id uuid NOT NULL,
        workout_version integer NOT NULL,
        source bytea NOT NULL,
        body bytea NOT NULL,
        PRIMARY KEY (user_id, workout_id)
    )
    """,
    """
    CREATE TABLE rm_weekly_totals (
        user_id uuid NOT NULL,
        week_start date NOT NULL,
        workouts integer NOT NULL,
        sets integer NOT NULL,
        volume_kg numeric NOT NULL,
        duration_s bigint NOT NULL,
        PRIMARY KEY (user_id, week_start)
    )
    """,
    """
    CREATE TABLE rm_dashboards (
        user_id uuid PRIMARY KEY,
        version bigint NOT NULL,
        as_of date NOT NULL,
        rollover_at timestamptz NOT NULL,
        body bytea NOT NULL
    )
    """,
    "CREATE INDEX rm_dashboards_rollover ON rm_dashboards (rollover_at)",
    # Accounts registered before the event log get their stream and UserRegistered event now.
    "INSERT INTO streams (user_id, version) SELECT id, 1 FROM users",
    """
    INSERT INTO events (event_id, user_id, version, type, schema_version, payload, occurred_at)
    SELECT gen_random_uuid(), id, 1, 'UserRegistered', 1,
           jsonb_build_object(
               'type', 'UserRegistered', 'handle', handle, 'displayName', display_name,
               'timezone', timezone, 'weekStart', week_start, 'e1rmFormula', e1rm_formula,
               'unit', unit, 'leaderboardOptIn', leaderboard_opt_in),
           created_at
    FROM users
    """,
    "INSERT INTO projection_pending (user_id, version) SELECT id, 1 FROM users",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_event_log_and_read_models() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_event_log_and_read_models)
    return manager
