"""Analytics: anonymous counts in schema `analytics`, and each user's share of them in rm_* state.

The per-user tables (public, rebuildable, erased with the user) are what the projection runner
compares a user's read models with; the differences are added to the shared counts, which hold no
user ids. Accounts projected before this migration are backfilled from their read models.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-27T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics: daily_activity, exercise_popularity, retention; rm_activity_*, rm_signups"
DEPLOY = "expand"  # migrations/deploy.py

STATEMENTS = [
    # Per-user state: a UTC day, an ISO week (its Monday, UTC) of one counted exercise, a signup day.
    """
    CREATE TABLE rm_activity_days (
        user_id uuid NOT NULL,
        day date NOT NULL,
        workouts integer NOT NULL,
        sets integer NOT NULL,
        volume_kg numeric NOT NULL,
        PRIMARY KEY (user_id, day)
    )
    """,
    """
    CREATE TABLE rm_activity_exercises (
        user_id uuid NOT NULL,
        week date NOT NULL,
        exercise_id text NOT NULL,
        sessions integer NOT NULL,
        sets integer NOT NULL,
        volume_kg numeric NOT NULL,
        PRIMARY KEY (user_id, week, exercise_id)
    )
    """,
    """
    CREATE TABLE rm_signups (
        user_id uuid PRIMARY KEY,
        registered_on date NOT NULL
    )
    """,
    # Shared counts. Custom exercises are counted together under the id 'custom'.
    """
    CREATE TABLE analytics.daily_activity (
        day date PRIMARY KEY,
        active_users integer NOT NULL DEFAULT 0,
        workouts integer NOT NULL DEFAULT 0,
        sets bigint NOT NULL DEFAULT 0,
        volume_kg numeric NOT NULL DEFAULT 0,
        new_users integer NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE analytics.exercise_popularity (
        week date NOT NULL CHECK (extract(isodow FROM week) = 1),
        exercise_id text NOT NULL,
        users integer NOT NULL,
        sessions integer NOT NULL,
        sets bigint NOT NULL,
        volume_kg numeric NOT NULL,
        PRIMARY KEY (week, exercise_id)
    )
    """,
    """
    CREATE TABLE analytics.retention (
        cohort_week date NOT NULL CHECK (extract(isodow FROM cohort_week) = 1),
        weeks_since_signup integer NOT NULL CHECK (weeks_since_signup >= 0),
        users integer NOT NULL,
        PRIMARY KEY (cohort_week, weeks_since_signup)
    )
    """,
    # Built-in exercise names for joins; analysts are granted the analytics schema only.
    """
    CREATE VIEW analytics.exercises AS
    SELECT id, name, category, equipment, measurement, mechanic, force, primary_muscles,
           secondary_muscles, retired
    FROM public.exercise_catalog
    """,
    "COMMENT ON TABLE analytics.daily_activity IS 'Per UTC day: users with a workout, workouts, "
    "working sets, volume (kg), registrations'",
    "COMMENT ON TABLE analytics.exercise_popularity IS 'Per ISO week (Monday, UTC) and exercise: users, "
    "sessions, working sets, volume (kg); custom exercises as ''custom'''",
    "COMMENT ON TABLE analytics.retention IS 'Users of each signup week (cohort) with a workout in the week "
    "weeks_since_signup later; cohort sizes are the new_users of daily_activity'",
    # Backfill of accounts projected before this migration.
    """
    INSERT INTO rm_signups (user_id, registered_on)
    SELECT user_id, min((occurred_at AT TIME ZONE 'UTC')::date) FROM events
    WHERE type = 'UserRegistered' GROUP BY user_id
    """,
    """
    INSERT INTO rm_activity_days (user_id, day, workouts, sets, volume_kg)
    SELECT user_id, (started_at AT TIME ZONE 'UTC')::date, count(*),
           sum((convert_from(body, 'UTF8')::jsonb ->> 'setCount')::integer),
           sum((convert_from(body, 'UTF8')::jsonb ->> 'volumeKg')::numeric)
    FROM rm_workout_summaries GROUP BY 1, 2
    """,
    """
    INSERT INTO rm_activity_exercises (user_id, week, exercise_id, sessions, sets, volume_kg)
    SELECT user_id, date_trunc('week', started_at AT TIME ZONE 'UTC')::date,
           CASE WHEN exercise_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN 'custom' ELSE exercise_id END,
           count(*),
           sum(coalesce((convert_from(body, 'UTF8')::jsonb ->> 'workingSets')::integer, 0)),
           sum((convert_from(body, 'UTF8')::jsonb ->> 'volumeKg')::numeric)
    FROM rm_exercise_sessions GROUP BY 1, 2, 3
    """,
    """
    INSERT INTO analytics.daily_activity (day, active_users, workouts, sets, volume_kg, new_users)
    SELECT day, coalesce(a.users, 0), coalesce(a.workouts, 0), coalesce(a.sets, 0),
           coalesce(a.volume_kg, 0), coalesce(s.users, 0)
    FROM (SELECT day, count(*) AS users, sum(workouts) AS workouts, sum(sets) AS sets,
                 sum(volume_kg) AS volume_kg
          FROM rm_activity_days GROUP BY day) a
    FULL JOIN (SELECT registered_on AS day, count(*) AS users FROM rm_signups GROUP BY 1) s USING (day)
    """,
    """
    INSERT INTO analytics.exercise_popularity (week, exercise_id, users, sessions, sets, volume_kg)
    SELECT week, exercise_id, count(*), sum(sessions), sum(sets), sum(volume_kg)
    FROM rm_activity_exercises GROUP BY 1, 2
    """,
    """
    INSERT INTO analytics.retention (cohort_week, weeks_since_signup, users)
    SELECT cohort_week, (week - cohort_week) / 7, count(*)
    FROM (SELECT DISTINCT s.user_id, date_trunc('week', s.registered_on::timestamp)::date AS cohort_week,
                 date_trunc('week', a.day::timestamp)::date AS week
          FROM rm_signups s JOIN rm_activity_days a USING (user_id)) active
    WHERE week >= cohort_week
    GROUP BY 1, 2
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="ironlog", description=DESCRIPTION)

    async def create_analytics() -> None:
        from piccolo.conf.apps import Finder

        engine = Finder().get_engine()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_analytics)
    return manager
