"""Whether the database holds the schema this code was written for: the revision alembic
recorded (`alembic_version`) against the heads of the migration scripts. On a schema behind
them every request that touches a missing table or column would fail, so keygate refuses to
start on one, naming the command that fixes it (docs/contract.md §6)."""

from pathlib import Path
from typing import TYPE_CHECKING, Final

import asyncpg

from app.core.db import Database
from app.core.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from app.core.db import Connection

MIGRATIONS: Final = Path(__file__).resolve().parents[2] / "alembic"
MIGRATE: Final = "run `keygate migrate`"


class SchemaNotCurrent(Exception):
    """The database cannot serve this code; the message is the one line keygate stops with."""


def migration_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """The heads of the migration scripts, and every revision they know."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS))
    known = frozenset(script.revision for script in scripts.walk_revisions())
    return frozenset(scripts.get_heads()), known


def schema_problem(recorded: frozenset[str], heads: frozenset[str], known: frozenset[str]) -> str:
    """Empty when the recorded revisions serve this code. A revision these scripts do not know
    was written by newer code (a rolling upgrade migrates first): that schema serves this code
    too, so only a known revision other than a head is behind."""
    if not recorded:
        return f"the database has no keygate schema yet: {MIGRATE}"
    behind = sorted(recorded & known - heads)
    if behind:
        return (
            f"the database schema is at revision {', '.join(behind)}, behind the latest"
            f" migration ({', '.join(sorted(heads))}): {MIGRATE}"
        )
    return ""


async def check_schema(conn: "asyncpg.Connection[asyncpg.Record] | Connection") -> None:
    """Raises SchemaNotCurrent when the schema behind `conn` is missing or behind."""
    recorded: frozenset[str] = frozenset()
    if await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
        rows = await conn.fetch("SELECT version_num FROM alembic_version")
        recorded = frozenset(row["version_num"] for row in rows)
    problem = schema_problem(recorded, *migration_revisions())
    if problem:
        raise SchemaNotCurrent(problem)


def missing_database(exc: asyncpg.InvalidCatalogNameError) -> SchemaNotCurrent:
    return SchemaNotCurrent(f"{exc}: {MIGRATE} to create it")


async def check_database_schema(db: Database) -> None:
    """At startup: refuses a missing database or a schema behind the migrations. PostgreSQL
    unreachable is no refusal: keygate starts and serves cached users (§6)."""
    try:
        async with db.connection() as conn:
            await check_schema(conn)
    except DatabaseUnavailable:
        return
    except asyncpg.InvalidCatalogNameError as exc:
        raise missing_database(exc) from exc
