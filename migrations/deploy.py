"""What each migration means for a rolling deploy, as the migration itself declares it.

Every module in `versions/` sets `DEPLOY`:
- `"expand"`: it only adds (tables, nullable columns, indexes on tables it creates); the previous
  release runs unchanged on the new schema, so old and new processes may serve side by side.
- `"contract"`: it removes or changes something the previous release uses; deploy it only once no
  process of that release runs (ship the code that stops using it first, then this migration).
- `"lock"`: it holds a lock on a table that may be large for longer than requests can wait (a
  rewrite, an index built without CONCURRENTLY on an existing table); schedule it.
A `"contract"` or `"lock"` migration says why in `DEPLOY_NOTE`, and docs/operations.md lists it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from piccolo.apps.migrations.commands.base import BaseMigrationManager

from migrations.piccolo_app import APP_CONFIG

KINDS = ("expand", "contract", "lock")


@dataclass(frozen=True)
class Deploy:
    id: str
    deploy: str
    note: str
    source: Path


def _modules() -> dict[str, ModuleType]:
    manager = BaseMigrationManager()
    return manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)


def declared() -> list[Deploy]:
    """Every shipped migration's declaration, in order."""
    found = []
    for module in _modules().values():
        found.append(
            Deploy(
                id=module.ID,
                deploy=getattr(module, "DEPLOY", ""),
                note=getattr(module, "DEPLOY_NOTE", ""),
                source=Path(module.__file__ or ""),
            )
        )
    return sorted(found, key=lambda deploy: deploy.id)


def migrations_after(applied: Iterable[str]) -> list[Deploy]:
    """The shipped migrations a database that applied `applied` has yet to apply."""
    done = set(applied)
    return [deploy for deploy in declared() if deploy.id not in done]


_CREATED = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w.]+)", re.IGNORECASE)
_INDEXED = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\w*\s*ON\s+([\w.]+)",
    re.IGNORECASE,
)
_CONTRACTING = re.compile(
    r"\bDROP\s+(?:TABLE|COLUMN|VIEW|SCHEMA|TYPE)\b|\bRENAME\b|\bALTER\s+COLUMN\s+\w+\s+(?:SET\s+DATA\s+)?TYPE\b"
    r"|\bSET\s+NOT\s+NULL\b",
    re.IGNORECASE,
)


def least_kind(source: str) -> str:
    """The mildest declaration the SQL in a migration's source allows: removals and changes of type
    or nullability contract; an index built without CONCURRENTLY on a table the migration did not
    create locks it; anything else may expand."""
    if _CONTRACTING.search(source):
        return "contract"
    created = {name.lower() for name in _CREATED.findall(source)}
    for concurrently, table in _INDEXED.findall(source):
        if not concurrently and table.lower() not in created:
            return "lock"
    return "expand"
