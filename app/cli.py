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
from typing import Final, NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic import ValidationError

from app.api.schemas.users import UserCreate
from app.core.db import CONNECTION_ERRORS, connect_each_host, create_database
from app.core.errors import InvalidField
from app.core.redis import REDIS_ERRORS, CacheUnavailable, create_redis
from app.core.schema_version import SchemaNotCurrent, check_schema, missing_database
from app.core.settings import Settings
from app.mfa.errors import TotpNotEnabled
from app.ops.logging import logging_config
from app.products.repository import ProductRepository
from app.tokens.keys import KeyFileError, generate_private_key_file, retire_key_file
from app.user_commands import (
    NoSuchUser,
    create_user,
    end_sessions,
    list_users,
    reset_totp,
    running_services,
    set_active,
    set_password,
    unlock,
    user_named,
    user_table,
)
from app.users.repository import UsernameTaken

DEMO_PRODUCTS: Final = [
    ("1L FOUNTAIN DRINKING WATER", Decimal("2.55")),
    ("PINK COTTON BUDS", Decimal("4.85")),
    ("WINE GLASS", Decimal("9.75")),
]
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
EXIT_ERROR: Final = 1
EXIT_NO_SUCH_USER: Final = 3
EXIT_INTERRUPTED: Final = 130
# The one set of exit statuses `keygate serve` and every command keep (README, The command
# line); argparse itself exits 2 on a usage error.
EXIT_CODES: Final = """\
exit status:
  0 done
  1 error, said in one line on standard error: PostgreSQL unreachable, a missing database
    or a schema behind the latest migration (run `keygate migrate`), an invalid setting
    (the line names the variable), a port already in use, a refused password
  2 usage error
  3 no such user
  130 interrupted (Ctrl-C)"""


class CommandError(Exception):
    """Ends the command with a one-line message and exit status 1."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the exit-status table as written, and shows each option's default (but not the
    None or False of an option that is off unless given)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if (
            text is not None
            and action.option_strings
            and action.default not in (None, False, argparse.SUPPRESS)
            and "%(default)" not in text
        ):
            text += " (default: %(default)s)"
        return text


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
        field = "_".join(str(part) for part in first["loc"]).upper()
        message = first["msg"].removeprefix("Value error, ")
        # A check of several settings at once has no single field: its message names them.
        named = f" ({field})" if field else ""
        raise CommandError(f"invalid configuration{named}: {message}") from exc


async def check_postgres(settings: Settings) -> None:
    """PostgreSQL answers, the database exists and its schema is the latest migration's."""
    try:
        conn = await connect_each_host(settings.database_url, timeout=5)
    except asyncpg.InvalidCatalogNameError as exc:
        raise CommandError(str(missing_database(exc))) from exc
    except (*CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
        raise CommandError(
            f"PostgreSQL is unreachable at {redacted(settings.database_url)}: {exc}"
        ) from exc
    try:
        await check_schema(conn)
    except SchemaNotCurrent as exc:
        raise CommandError(str(exc)) from exc
    finally:
        await conn.close()


async def check_redis(settings: Settings) -> None:
    """Redis unreachable is no reason to refuse: keygate serves from PostgreSQL and uses
    Redis once it answers (docs/contract.md §6). One warning line says so."""
    redis = create_redis(settings)
    try:
        await redis.ping()
    except REDIS_ERRORS as exc:
        print(
            f"keygate: warning: Redis is unreachable at {redacted(settings.redis_url)} ({exc}):"
            " serving from PostgreSQL until it answers",
            file=sys.stderr,
        )
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

    from app.ops.http_limits import HttpLimits, LimitedConfig
    from app.ops.open_files import raise_open_files_limit
    from app.ops.workers import port_in_use, reuse_port_socket, serve_workers

    # Before the workers' own sockets: with SO_REUSEPORT they would share the port unnoticed.
    try:
        taken = port_in_use(host, port)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    if taken:
        raise CommandError(f"port {port} is already in use on {host}: another server listens there")
    asyncio.run(check_postgres(settings))
    asyncio.run(check_redis(settings))
    settings.signing_secret()  # create the development secret once, before workers race for it
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again into the handler
    # it found; a handler that returns lets the process exit 0 after a clean shutdown.
    signal.signal(signal.SIGTERM, lambda *_: None)
    limits = HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        header_timeout_seconds=settings.http_header_timeout_seconds,
        body_timeout_seconds=settings.http_body_timeout_seconds,
        max_connections=raise_open_files_limit(settings.http_max_connections),
    )
    config = LimitedConfig(
        "app.main:app",
        limits=limits,
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
        try:
            sockets = [reuse_port_socket(host, port) for _ in range(workers)]
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        status = serve_workers(config, sockets)
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
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
            raise CommandError("no password on standard input (--password-stdin reads one line)")
        return line.rstrip("\n")
    if sys.stdin is None or not sys.stdin.isatty():
        raise CommandError(
            "standard input is not a terminal, so there is no one to ask for the password:"
            " pipe it in with --password-stdin"
        )
    try:
        password = getpass.getpass("Password: ")
        repeated = getpass.getpass("Repeat password: ")
    except EOFError as exc:
        raise CommandError("no password given") from exc
    if repeated != password:
        raise CommandError("the passwords do not match")
    return password


async def create_account(settings: Settings, args: argparse.Namespace, password: str) -> None:
    """Validated by the UserCreate that POST /users validates with, then made by the same
    registration service."""
    try:
        body = UserCreate(
            username=args.username, password=password, email=args.email, full_name=args.full_name
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise CommandError(f"invalid {first['loc'][0]}: {message}") from exc
    await check_postgres(settings)
    try:
        user = await create_user(
            settings,
            body.username,
            body.password,
            email=body.email,
            full_name=body.full_name,
            is_admin=args.admin,
        )
    except UsernameTaken as exc:
        raise CommandError(f"username {body.username!r} is already taken") from exc
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
    """users list / set-password / disable / enable / unlock / totp-reset and sessions end."""
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
    elif command == "totp-reset":
        try:
            user = await reset_totp(settings, args.username)
        except TotpNotEnabled as exc:
            raise CommandError(f"{args.username} has no TOTP to reset") from exc
        print(
            f"turned TOTP off for {user.username} (id {user.id}); every session ended:"
            " the password alone logs in now, and they can set TOTP up again"
        )
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
    command(users, "reset-link", text).add_argument("username")


def generate_key(settings: Settings, *, force: bool) -> None:
    algorithm, path = settings.jwt_algorithm, settings.jwt_private_key_file
    if algorithm == "HS256" or path is None:
        raise CommandError("set JWT_ALGORITHM to ES256 or RS256 and JWT_PRIVATE_KEY_FILE first")
    old_path = path.with_name(path.name + ".previous")
    # Never a directory nobody asked for (such as /etc/keygate): where a key lives, and who
    # may read that directory, is the operator's choice.
    if not path.parent.is_dir():
        raise CommandError(
            f"JWT_PRIVATE_KEY_FILE's directory {path.parent} does not exist: create it"
            " (readable only by the user keygate runs as), or point JWT_PRIVATE_KEY_FILE"
            " elsewhere"
        )
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


def command(
    parent: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, text: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its defaults and the exit statuses."""
    return parent.add_parser(
        name, help=text, description=text, epilog=EXIT_CODES, formatter_class=HelpFormatter
    )


def add_user_commands(
    users: "argparse._SubParsersAction[argparse.ArgumentParser]",
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
) -> None:
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
        (
            "totp-reset",
            "turn TOTP off for a user who lost their device (no code asked); ends every session",
        ),
    ]:
        command(users, name, text).add_argument("username")
    sessions = command(commands, "sessions", "end sessions").add_subparsers(
        dest="sessions_command", required=True
    )
    end = command(sessions, "end", "end every session of a user at once")
    end.add_argument("--user", required=True, metavar="USERNAME", help="whose sessions")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="keygate", description=__doc__, epilog=EXIT_CODES, formatter_class=HelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)
    command(commands, "migrate", "create the database if missing, then upgrade to head")
    serve_cmd = command(commands, "serve", "serve the API")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve_cmd.add_argument("--port", type=int, default=8000, help="the port to listen on")
    serve_cmd.add_argument("--workers", type=int, default=1, help="worker processes: one per core")
    users = command(commands, "users", "manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = command(users, "create", "create a user (the password policy applies)")
    create.add_argument("username")
    create.add_argument("--email", help="the user's email address")
    create.add_argument("--full-name", help="the user's full name")
    create.add_argument("--admin", action="store_true", help="grant admin and products:write")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (one line) instead of asking for it",
    )
    add_user_commands(users, commands)
    add_reset_link_command(users)
    command(commands, "demo", "load the demo products (idempotent)")
    keys = command(commands, "keys", "signing keys for ES256/RS256").add_subparsers(
        dest="keys_command", required=True
    )
    generate = command(
        keys,
        "generate",
        "write a new JWT_ALGORITHM key to JWT_PRIVATE_KEY_FILE (mode 0600); its directory"
        " must exist",
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
            asyncio.run(create_account(settings, args, password))
        elif args.command == "users" and args.users_command == "reset-link":
            asyncio.run(print_reset_link(settings, args.username))
        elif args.command in ("users", "sessions"):
            asyncio.run(run_user_command(settings, args))
        elif args.command == "demo":
            asyncio.run(load_demo(settings))
        elif args.command == "keys":
            generate_key(settings, force=args.force)
    except CommandError as exc:
        fail(str(exc), EXIT_ERROR)
    except NoSuchUser as exc:
        fail(str(exc), EXIT_NO_SUCH_USER)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # no traceback from any command, whatever went wrong
        fail(f"{type(exc).__name__}: {exc}", EXIT_ERROR)


def fail(message: str, status: int) -> NoReturn:
    # One line, whatever the message held.
    line = "keygate: " + (message.strip().splitlines()[0] if message.strip() else "failed")
    if status == EXIT_ERROR:
        sys.exit(line)  # printed on standard error, exit status 1
    print(line, file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
