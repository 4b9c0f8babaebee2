"""Async migrations. The URL comes from DATABASE_URL (via Settings), or from the caller:
`config.attributes["database_url"]`, which the tests and `keygate migrate` set. A libpq URL
(`postgresql://`, the multi-host form with `target_session_attrs` included) is handed to
asyncpg unchanged, as the service does: SQLAlchemy cannot parse a host list."""

import asyncio
from logging.config import fileConfig

import asyncpg
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from alembic import context
from app.core.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def engine() -> AsyncEngine:
    url: str = config.attributes.get("database_url") or Settings().database_url
    if url.split("://", 1)[0] not in ("postgresql", "postgres"):
        return create_async_engine(url)  # a SQLAlchemy URL, e.g. postgresql+asyncpg://
    return create_async_engine("postgresql+asyncpg://", async_creator=lambda: asyncpg.connect(url))


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    migrating = engine()
    async with migrating.connect() as connection:
        await connection.run_sync(run_migrations)
        await connection.commit()
    await migrating.dispose()


if context.is_offline_mode():
    raise SystemExit("keygate migrations run online only: `alembic upgrade head`")
asyncio.run(run_async_migrations())
