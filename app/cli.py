"""The `keygate` command: migrate, serve, users, sessions, demo, keys."""

import argparse
import asyncio
import contextlib
import getpass
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic import ValidationError

from app.api.schemas.users import UserCreate
from app.core.db import CONNECTION_ERRORS, connect_each_host, create_database
from app.core.errors import InvalidField
from app.core.redis import REDIS_ERRORS, CacheUnavailable, create_redis
from app.core.settings import Settings
from app.ops.logging import logging_config
from app.products.repository import ProductRepository
from app.tokens.keys import KeyFileError, generate_private_key_file, retire_key_file
from app.user_commands import (
    NoSuchUser,
    end_sessions,
    list_users,
    running_services,
    set_active,
    set_password,
    unlock,
    user_named,
    user_table,
)
from app.users.passwords import PasswordHasher
from app.users.repository import UsernameTaken, UserRepository

DEMO_PRODUCTS: Final = [
    ("1L FOUNTAIN DRINKING WATER", Decimal("2.55")),
    ("PINK COTTON BUDS", Decimal("4.85")),
    ("WINE GLASS", Decimal("9.75")),
]
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
EXIT_NO_SUCH_USER: Final = 3
EXIT_CODES: Final = (
    "exit status: 0 done, 1 error (one line on stderr), 2 usage error, 3 no such user"
)


class CommandError(Exception):
    """Ends the command with a one-line message and exit status 1."""


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise CommandError(f"invalid configuration ({field.upper()}): {message}") from exc


async def check_postgres(settings: Settings) -> None:
    try:
        conn = await connect_each_host(settings.database_url, timeout=5)
    except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
        raise CommandError(
            f"PostgreSQL is unreachable at {redacted(settings.database_url)}: {exc}"
        ) from exc
    await conn.close()


async def check_redis(settings: Settings) -> None:
    redis = create_redis(settings)
    try:
        await redis.ping()
    except REDIS_ERRORS as exc:
        raise CommandError(
            f"Redis is unreachable at {redacted(settings.redis_url)}: {exc}"
        ) from exc
    finally:
        await redis.aclose()


async def create_database_if_missing(database_url: str) -> None:
    """Through the `postgres` database on the same hosts, with the same query (so a multi-host
    URL with target_session_attrs=read-write creates it on the primary)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    maintenance_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        conn = await connect_each_host(maintenance_url, timeout=5)
    except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
        raise CommandError(
            f"PostgreSQL is unreachable at {redacted(maintenance_url)}: {exc}"
        ) from exc
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Identifiers cannot be parameters; quote_ident-style quoting keeps the name whole.
            await conn.execute('CREATE DATABASE "{}"'.format(name.replace('"', '""')))
            print(f"created database {name}")
    finally:
        await conn.close()


def migrate(settings: Settings) -> None:
    from alembic.config import Config

    from alembic import command

    asyncio.run(create_database_if_missing(settings.database_url))
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    config.attributes["database_url"] = settings.database_url
    command.upgrade(config, "head")
    print("database is at the latest schema")


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from app.ops.workers import serve_workers

    asyncio.run(check_postgres(settings))
    asyncio.run(check_redis(settings))
    settings.signing_secret()  # create the development secret once, before workers race for it
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again into the handler
    # it found; a handler that returns lets the process exit 0 after a clean shutdown.
    signal.signal(signal.SIGTERM, lambda *_: None)
    config = uvicorn.Config(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        # Forwarded headers are believed only from TRUSTED_PROXIES (never by default).
        proxy_headers=False,
        forwarded_allow_ips="",
        # On SIGTERM: stop accepting, let in-flight requests finish, then close the pools.
        timeout_graceful_shutdown=20,
        log_config=logging_config(settings.log_level, settings.effective_log_format),
        access_log=False,
    )
    if workers > 1:
        status = serve_workers(config, workers)
        if status:
            raise SystemExit(status)
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise CommandError("the passwords do not match")
    return password


async def create_user(settings: Settings, args: argparse.Namespace, password: str) -> None:
    try:
        body = UserCreate(
            username=args.username, password=password, email=args.email, full_name=args.full_name
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise CommandError(f"invalid {first['loc'][0]}: {message}") from exc
    await check_postgres(settings)
    db = await create_database(settings)
    hasher = PasswordHasher(settings.bcrypt_rounds, settings.login_queue_size)
    try:
        user = await UserRepository(db).create(
            username=body.username,
            password_hash=await hasher.hash(body.password),
            email=body.email,
            full_name=body.full_name,
            is_admin=args.admin,
        )
    except UsernameTaken as exc:
        raise CommandError(f"username {body.username!r} is already taken") from exc
    finally:
        hasher.close()
        await db.pool.close()
    role = "admin" if user.is_admin else "user"
    print(f"created {role} {user.username} (id {user.id})")


async def load_demo(settings: Settings) -> None:
    await check_postgres(settings)
    db = await create_database(settings)
    try:
        added = await ProductRepository(db).ensure_demo(DEMO_PRODUCTS)
    finally:
        await db.pool.close()
    print(f"demo products: {added} added, {len(DEMO_PRODUCTS) - added} already there")


async def run_user_command(settings: Settings, args: argparse.Namespace) -> None:
    """users list / set-password / disable / enable / unlock and sessions end."""
    command = args.users_command if args.command == "users" else "end-sessions"
    password = read_new_password(args.password_stdin) if command == "set-password" else ""
    await check_postgres(settings)
    if command == "list":
        users = await list_users(settings, admins_only=args.admin, inactive_only=args.inactive)
        print(user_table(users))
    elif command == "set-password":
        try:
            user = await set_password(settings, args.username, password)
        except InvalidField as exc:
            raise CommandError(f"invalid password: {exc}") from exc
        print(f"set the password of {user.username} (id {user.id}); every session ended")
    elif command in ("disable", "enable"):
        user = await set_active(settings, args.username, active=command == "enable")
        ended = "; every session ended" if command == "disable" else ""
        print(f"{command}d {user.username} (id {user.id}){ended}")
    elif command == "unlock":
        try:
            user = await unlock(settings, args.username)
        except CacheUnavailable as exc:
            raise CommandError(f"Redis is unreachable at {redacted(settings.redis_url)}") from exc
        print(f"unlocked {user.username} (id {user.id}): failed logins forgotten")
    else:
        user, count = await end_sessions(settings, args.user)
        print(f"ended {count} session(s) of {user.username} (id {user.id})")


async def print_reset_link(settings: Settings, username: str) -> None:
    """keygate users reset-link: a password reset link for an operator to hand over by other
    means (docs/contract.md, Account recovery). No mail is sent; older links die."""
    await check_postgres(settings)
    async with running_services(settings) as services:
        user = await user_named(services, username)
        link = await services.recovery.reset_link(user.id)
    if link is None:
        raise CommandError(f"{user.username} is disabled: enable the account first")
    print(link)


def add_reset_link_command(users: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    text = (
        "print a password reset link for a user, to hand over by other means (no mail is"
        " sent; it works once, for PASSWORD_RESET_TTL_SECONDS, and makes older links dead)"
    )
    users.add_parser("reset-link", help=text, description=text, epilog=EXIT_CODES).add_argument(
        "username"
    )


def generate_key(settings: Settings, *, force: bool) -> None:
    algorithm, path = settings.jwt_algorithm, settings.jwt_private_key_file
    if algorithm == "HS256" or path is None:
        raise CommandError("set JWT_ALGORITHM to ES256 or RS256 and JWT_PRIVATE_KEY_FILE first")
    old_path = path.with_name(path.name + ".previous")
    try:
        if force and path.exists():
            retire_key_file(path, old_path, algorithm)
        key = generate_private_key_file(path, algorithm, force=force)
    except (KeyFileError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    print(f"wrote a new {algorithm} key to {path} (kid {key.kid})")
    if force and old_path.exists():
        print(
            f"the replaced key's public half was kept as {old_path}: add it to"
            " JWT_PREVIOUS_PUBLIC_KEY_FILES"
            " and restart every instance, so tokens it signed keep working until they expire"
            " (ACCESS_TOKEN_TTL_SECONDS), then remove it"
        )
    else:
        print("restart keygate to sign with it; /.well-known/jwks.json publishes it")


def add_user_commands(
    users: "argparse._SubParsersAction[argparse.ArgumentParser]",
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
    def command(
        parent: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, text: str
    ) -> argparse.ArgumentParser:
        return parent.add_parser(
            name,
            help=text,
            description=text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    listing = command(users, "list", "list users: id, username, email, admin, active, totp")
    listing.add_argument("--admin", action="store_true", help="only admins")
    listing.add_argument("--inactive", action="store_true", help="only disabled users")
    set_pw = command(
        users, "set-password", "set a user's password (the policy applies); ends every session"
    )
    set_pw.add_argument("username")
    set_pw.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    for name, text in [
        ("disable", "disable a user: logins refused, every session ended at once"),
        ("enable", "enable a disabled user again"),
        ("unlock", "forget a user's failed logins, so a throttled user may log in at once"),
    ]:
        command(users, name, text).add_argument("username")
    sessions = commands.add_parser("sessions", help="end sessions").add_subparsers(
        dest="sessions_command", required=True
    )
    end = command(sessions, "end", "end every session of a user at once")
    end.add_argument("--user", required=True, metavar="USERNAME")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="keygate",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create the database if missing, then upgrade to head")
    serve_cmd = commands.add_parser("serve", help="serve the API")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user")
    create.add_argument("username")
    create.add_argument("--email")
    create.add_argument("--full-name")
    create.add_argument("--admin", action="store_true", help="grant admin and products:write")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add_user_commands(users, commands)
    add_reset_link_command(users)
    commands.add_parser("demo", help="load the demo products (idempotent)")
    keys = commands.add_parser("keys", help="signing keys for ES256/RS256").add_subparsers(
        dest="keys_command", required=True
    )
    generate = keys.add_parser(
        "generate", help="write a new JWT_ALGORITHM key to JWT_PRIVATE_KEY_FILE (mode 0600)"
    )
    generate.add_argument("--force", action="store_true", help="replace an existing key file")
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "migrate":
            migrate(settings)
        elif args.command == "serve":
            serve(settings, args.host, args.port, args.workers)
        elif args.command == "users" and args.users_command == "create":
            password = read_new_password(args.password_stdin)
            asyncio.run(create_user(settings, args, password))
        elif args.command == "users" and args.users_command == "reset-link":
            asyncio.run(print_reset_link(settings, args.username))
        elif args.command in ("users", "sessions"):
            asyncio.run(run_user_command(settings, args))
        elif args.command == "demo":
            asyncio.run(load_demo(settings))
        elif args.command == "keys":
            generate_key(settings, force=args.force)
    except CommandError as exc:
        sys.exit(f"keygate: {exc}")
    except NoSuchUser as exc:
        print(f"keygate: {exc}", file=sys.stderr)
        sys.exit(EXIT_NO_SUCH_USER)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
