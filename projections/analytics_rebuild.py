"""The analytics counts across a rebuild's swap: they change by what the rebuilt state differs from the live.

A rebuild writes only per-user state (the shadow rm_activity_days, rm_activity_exercises and
rm_signups). When it replaces the live tables, a user whose state came out different (a projector
changed, say) would leave the counts off by that difference for good; this adds it, in the swap, as
changes of the counts, which the sweeper folds in as a batch's (projections/analytics.py).
"""

from __future__ import annotations

import uuid

import asyncpg

# Each side's rows carry a sign: +1 rebuilt, -1 live.
_SIDES = """
    SELECT 1 AS sign, {columns} FROM {shadow}.{table} WHERE $1::uuid IS NULL OR user_id = $1
    UNION ALL
    SELECT -1 AS sign, {columns} FROM public.{table} WHERE $1::uuid IS NULL OR user_id = $1
"""

_RECONCILE_DAYS = """
INSERT INTO analytics.daily_activity_changes (day, active_users, workouts, sets, volume_kg, new_users)
SELECT day, sum(active_users), sum(workouts), sum(sets), sum(volume_kg), sum(new_users) FROM (
    SELECT day, sign AS active_users, sign * workouts AS workouts, sign * sets AS sets,
           sign * volume_kg AS volume_kg, 0 AS new_users
    FROM ({days}) AS days
    UNION ALL
    SELECT registered_on, 0, 0, 0, 0, sign FROM ({signups}) AS signups
) AS changes
GROUP BY day
HAVING (sum(active_users), sum(workouts), sum(sets), sum(volume_kg), sum(new_users)) <> (0, 0, 0, 0, 0)
"""

_RECONCILE_EXERCISES = """
INSERT INTO analytics.exercise_popularity_changes (week, exercise_id, users, sessions, sets, volume_kg)
SELECT week, exercise_id, sum(sign), sum(sign * sessions), sum(sign * sets), sum(sign * volume_kg)
FROM ({exercises}) AS exercises
GROUP BY week, exercise_id
HAVING (sum(sign), sum(sign * sessions), sum(sign * sets), sum(sign * volume_kg)) <> (0, 0, 0, 0)
"""

_ACTIVE_WEEKS = """
    SELECT DISTINCT {sign} AS sign, s.user_id,
           date_trunc('week', s.registered_on::timestamp)::date AS cohort_week,
           date_trunc('week', d.day::timestamp)::date AS week
    FROM {schema}.rm_signups s JOIN {schema}.rm_activity_days d USING (user_id)
    WHERE $1::uuid IS NULL OR s.user_id = $1
"""

_RECONCILE_RETENTION = """
INSERT INTO analytics.retention_changes (cohort_week, weeks_since_signup, users)
SELECT cohort_week, (week - cohort_week) / 7, sum(sign)
FROM ({rebuilt} UNION ALL {live}) AS active
WHERE week >= cohort_week
GROUP BY 1, 2
HAVING sum(sign) <> 0
"""


async def reconcile_rebuilt(connection: asyncpg.Connection, shadow: str, user_id: uuid.UUID | None) -> None:
    """Change the counts by what the rebuilt state in schema `shadow` differs from the live state.

    For a rebuild's swap, in its transaction, after the shadow has caught up and before it replaces
    the live tables; `user_id` None for a rebuild of every user.
    """
    schema = '"' + shadow.replace('"', '""') + '"'

    def sides(table: str, columns: str) -> str:
        return _SIDES.format(shadow=schema, table=table, columns=columns)

    days = sides("rm_activity_days", "day, workouts, sets, volume_kg")
    signups = sides("rm_signups", "registered_on")
    exercises = sides("rm_activity_exercises", "week, exercise_id, sessions, sets, volume_kg")
    rebuilt = _ACTIVE_WEEKS.format(sign=1, schema=schema)
    live = _ACTIVE_WEEKS.format(sign=-1, schema="public")
    await connection.execute(_RECONCILE_DAYS.format(days=days, signups=signups), user_id)
    await connection.execute(_RECONCILE_EXERCISES.format(exercises=exercises), user_id)
    await connection.execute(_RECONCILE_RETENTION.format(rebuilt=rebuilt, live=live), user_id)
