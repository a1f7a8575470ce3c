"""Every migration says what it means for a rolling deploy (migrations/deploy.py), and says it truly."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrations.deploy import KINDS, Deploy, declared, least_kind

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


@pytest.mark.parametrize("migration", declared(), ids=lambda m: m.id)
def test_each_migration_declares_its_deploy_kind_no_milder_than_its_sql(migration: Deploy) -> None:
    assert migration.deploy in KINDS, f"{migration.source.name}: DEPLOY must be one of {KINDS}"
    needed = least_kind(migration.source.read_text())
    assert KINDS.index(migration.deploy) >= KINDS.index(needed), (
        f"{migration.source.name}: its SQL makes it {needed!r}, not {migration.deploy!r}"
    )


def test_every_migration_that_is_not_an_expansion_is_explained_and_listed_for_operators() -> None:
    operations = OPERATIONS.read_text()
    for migration in declared():
        if migration.deploy != "expand":
            assert migration.note, f"{migration.source.name}: say why in DEPLOY_NOTE"
            assert migration.id in operations, f"docs/operations.md must list {migration.id}"


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("CREATE TABLE t (id int); CREATE INDEX t_id ON t (id)", "expand"),
        ("ALTER TABLE users ADD COLUMN nickname text", "expand"),
        ("CREATE INDEX CONCURRENTLY workouts_title ON workouts (title)", "expand"),
        ("CREATE INDEX workouts_title ON workouts (title)", "lock"),
        ("CREATE UNIQUE INDEX users_handle ON users (handle)", "lock"),
        ("ALTER TABLE users DROP COLUMN nickname", "contract"),
        ("DROP TABLE projection_dirty", "contract"),
        ("ALTER TABLE users RENAME COLUMN handle TO name", "contract"),
        ("ALTER TABLE workouts ALTER COLUMN title TYPE varchar(80)", "contract"),
        ("ALTER TABLE workouts ALTER COLUMN title SET NOT NULL", "contract"),
    ],
)
def test_the_sql_of_a_migration_decides_its_mildest_kind(sql: str, kind: str) -> None:
    assert least_kind(sql) == kind
