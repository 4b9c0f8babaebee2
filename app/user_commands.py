"""What `keygate users ...` and `keygate sessions end` do, run through the same services the
server runs, so that each change reaches the auth cache (and so every worker) at once."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC

from app.container import Container, build_container
from app.core.clock import system_clock
from app.core.settings import Settings
from app.ops.metrics import Metrics
from app.users.model import User

TABLE_COLUMNS = ("id", "username", "email", "admin", "active", "totp", "created")


class NoSuchUser(Exception):
    def __init__(self, username: str) -> None:
        super().__init__(f"no such user: {username!r}")


@asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Container]:
    container = await build_container(settings, Metrics(), system_clock)
    try:
        yield container
    finally:
        await container.close()


async def user_named(services: Container, username: str) -> User:
    user = await services.users.get_by_username(username)
    if user is None:
        raise NoSuchUser(username)
    return user


async def create_user(
    settings: Settings,
    username: str,
    password: str,
    *,
    email: str | None,
    full_name: str | None,
    is_admin: bool,
) -> User:
    """Through the registration service POST /users uses, without its per-address limit (an
    operator is no anonymous client). Raises UsernameTaken."""
    async with running_services(settings) as services:
        return await services.registration.create(
            username=username,
            password=password,
            email=email,
            full_name=full_name,
            is_admin=is_admin,
        )


async def list_users(settings: Settings, *, admins_only: bool, inactive_only: bool) -> list[User]:
    async with running_services(settings) as services:
        return await services.users.listing(admins_only=admins_only, inactive_only=inactive_only)


async def set_password(settings: Settings, username: str, password: str) -> User:
    """Raises InvalidField when the password policy refuses it."""
    async with running_services(settings) as services:
        user = await user_named(services, username)
        await services.accounts.set_password(user.id, password)
        return user


async def set_active(settings: Settings, username: str, *, active: bool) -> User:
    """Disabling ends every session of the user at once."""
    async with running_services(settings) as services:
        user = await user_named(services, username)
        return await services.accounts.set_flags(user.id, is_active=active, is_admin=None)


async def unlock(settings: Settings, username: str) -> User:
    """Raises CacheUnavailable when Redis, where the lockout lives, cannot be reached."""
    async with running_services(settings) as services:
        user = await user_named(services, username)
        await services.throttle.unlock(user.id)
        return user


async def reset_totp(settings: Settings, username: str) -> User:
    """For a user who lost their device: TOTP off, every session ended. Raises TotpNotEnabled."""
    async with running_services(settings) as services:
        user = await user_named(services, username)
        return await services.accounts.reset_totp(user.id)


async def end_sessions(settings: Settings, username: str) -> tuple[User, int]:
    async with running_services(settings) as services:
        user = await user_named(services, username)
        return user, await services.sessions.end_all(user.id)


def user_table(users: Sequence[User]) -> str:
    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    rows = [TABLE_COLUMNS] + [
        (
            str(u.id),
            u.username,
            u.email or "-",
            yes(u.is_admin),
            yes(u.is_active),
            yes(u.totp_enabled),
            u.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        )
        for u in users
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
