"""Keep the `exercise_catalog` table equal to the built-in catalog, on every migrate."""

from __future__ import annotations

import asyncpg
import msgspec

from core.catalog import BUILT_IN, Exercise


class _CatalogRow(msgspec.Struct, frozen=True):
    """One table row as JSON; the keys are the column names jsonb_to_recordset reads."""

    id: str
    name: str
    category: str
    equipment: str
    measurement: str
    mechanic: str | None
    force: str | None
    primary_muscles: tuple[str, ...]
    secondary_muscles: tuple[str, ...]
    aliases: tuple[str, ...]


_ENCODER = msgspec.json.Encoder()

# The WHERE makes an unchanged row a no-op: no new tuple, no RETURNING row, so the count is honest.
_UPSERT = """
INSERT INTO exercise_catalog AS catalog (
    id, name, category, equipment, measurement, mechanic, force,
    primary_muscles, secondary_muscles, aliases, retired
)
SELECT id, name, category, equipment, measurement, mechanic, force,
       primary_muscles, secondary_muscles, aliases, false
FROM jsonb_to_recordset($1::jsonb) AS built_in (
    id text, name text, category text, equipment text, measurement text, mechanic text, force text,
    primary_muscles text[], secondary_muscles text[], aliases text[]
)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name,
    category = EXCLUDED.category,
    equipment = EXCLUDED.equipment,
    measurement = EXCLUDED.measurement,
    mechanic = EXCLUDED.mechanic,
    force = EXCLUDED.force,
    primary_muscles = EXCLUDED.primary_muscles,
    secondary_muscles = EXCLUDED.secondary_muscles,
    aliases = EXCLUDED.aliases,
    retired = false
WHERE (catalog.name, catalog.category, catalog.equipment, catalog.measurement, catalog.mechanic,
       catalog.force, catalog.primary_muscles, catalog.secondary_muscles, catalog.aliases, catalog.retired)
    IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.category, EXCLUDED.equipment, EXCLUDED.measurement, EXCLUDED.mechanic,
       EXCLUDED.force, EXCLUDED.primary_muscles, EXCLUDED.secondary_muscles, EXCLUDED.aliases, false)
RETURNING id
"""

# Ids dropped from the code are retired, never deleted: logged workouts still name them.
_RETIRE = """
UPDATE exercise_catalog SET retired = true
WHERE NOT retired AND id <> ALL($1::text[])
RETURNING id
"""


def _row(entry: Exercise) -> _CatalogRow:
    return _CatalogRow(
        id=entry.id,
        name=entry.name,
        category=entry.category,
        equipment=entry.equipment,
        measurement=entry.measurement,
        mechanic=entry.mechanic,
        force=entry.force,
        primary_muscles=entry.primary_muscles,
        secondary_muscles=entry.secondary_muscles,
        aliases=entry.aliases,
    )


async def sync_catalog(connection: asyncpg.Connection) -> int:
    """Upsert every built-in exercise and retire ids no longer built in, atomically; rows changed."""
    payload = _ENCODER.encode([_row(entry) for entry in BUILT_IN]).decode()
    async with connection.transaction():
        upserted = await connection.fetch(_UPSERT, payload)
        retired = await connection.fetch(_RETIRE, [entry.id for entry in BUILT_IN])
    return len(upserted) + len(retired)
