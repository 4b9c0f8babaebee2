"""Users in PostgreSQL. One method, one atomic operation."""

import asyncpg

from app.core.db import Database
from app.core.errors import Conflict
from app.core.paging import page_statement
from app.users.model import User

USER_COLUMNS = (
    "id, username, email, email_verified, full_name, password_hash, is_active, is_admin,"
    " totp_enabled, totp_secret_encrypted, created_at"
)


USER_PAGE = page_statement(table="users", columns=USER_COLUMNS)


class UsernameTaken(Conflict):
    message = "username is already taken"


def user_from_row(row: asyncpg.Record) -> User:
    return User(**dict(row))


def _page_user(row: asyncpg.Record) -> User:
    fields = dict(row)
    del fields["total"]
    return User(**fields)


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        username: str,
        password_hash: str,
        email: str | None = None,
        full_name: str | None = None,
        is_admin: bool = False,
    ) -> User:
        # In a transaction, not autocommitted: an INSERT that reaches a PostgreSQL which
        # hung while we answered 503 is then rolled back when it finds the connection cut,
        # instead of committing later (docs/contract.md §6).
        async with self._db.transaction() as conn:
            try:
                (row,) = await conn.fetch(
                    "INSERT INTO users (username, password_hash, email, full_name, is_admin)"
                    f" VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}",
                    username,
                    password_hash,
                    email,
                    full_name,
                    is_admin,
                )
            except asyncpg.UniqueViolationError as exc:
                raise UsernameTaken from exc
        return user_from_row(row)

    async def get(self, user_id: int) -> User | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return user_from_row(row) if row else None

    async def get_by_username(self, username: str) -> User | None:
        if "\0" in username:  # PostgreSQL text cannot hold NUL, so no user has one
            return None
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)", username
            )
        return user_from_row(row) if row else None

    async def find_login(self, username: str) -> tuple[User | None, str]:
        """The user a login name finds (case-insensitively, as PostgreSQL folds case: so `İ`
        finds `i` where PostgreSQL's locale says so), and the name as PostgreSQL folds it."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT name.folded, {USER_COLUMNS} FROM users"
                " RIGHT JOIN (SELECT lower($1::text) AS folded) AS name"
                " ON lower(users.username) = name.folded",
                username,
            )
        assert row is not None  # noqa: S101 (one row whatever the name: the RIGHT JOIN's right)
        fields = dict(row)
        folded: str = fields.pop("folded")
        return (User(**fields) if fields["id"] is not None else None), folded

    async def recovery_accounts(self, *, username: str | None, email: str | None) -> list[User]:
        """The active accounts with an address that a reset request names: by username (one at
        most, matched as logins match it) or by email (every account with that address)."""
        if "\0" in (username or email or ""):
            return []
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {USER_COLUMNS} FROM users"
                " WHERE is_active AND email IS NOT NULL"
                " AND (lower(username) = lower($1) OR lower(email) = lower($2)) ORDER BY id",
                username,
                email,
            )
        return [user_from_row(r) for r in rows]

    async def page(self, *, limit: int, offset: int) -> tuple[list[User], int]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(USER_PAGE, limit, offset)
        return [_page_user(r) for r in rows if r["id"] is not None], rows[0]["total"]

    async def listing(self, *, admins_only: bool, inactive_only: bool) -> list[User]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {USER_COLUMNS} FROM users"
                " WHERE (is_admin OR NOT $1) AND (NOT is_active OR NOT $2) ORDER BY id",
                admins_only,
                inactive_only,
            )
        return [user_from_row(r) for r in rows]

    async def update_profile(self, user_id: int, changes: dict[str, str | None]) -> User | None:
        """Sets only the fields present in `changes` (a field may be set to null)."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE users SET"
                " email = CASE WHEN $2 THEN $3 ELSE email END,"
                # A new address starts unverified; the same address again keeps its state.
                " email_verified = email_verified AND (NOT $2 OR email IS NOT DISTINCT FROM $3),"
                " full_name = CASE WHEN $4 THEN $5 ELSE full_name END,"
                " updated_at = now()"
                f" WHERE id = $1 RETURNING {USER_COLUMNS}",
                user_id,
                "email" in changes,
                changes.get("email"),
                "full_name" in changes,
                changes.get("full_name"),
            )
        return user_from_row(row) if row else None

    async def update_flags(
        self, user_id: int, *, is_active: bool | None, is_admin: bool | None
    ) -> User | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE users SET is_active = coalesce($2, is_active),"
                " is_admin = coalesce($3, is_admin), updated_at = now()"
                f" WHERE id = $1 RETURNING {USER_COLUMNS}",
                user_id,
                is_active,
                is_admin,
            )
        return user_from_row(row) if row else None

    async def replace_password_hash(
        self, user_id: int, *, old_hash: str, new_hash: str
    ) -> User | None:
        """Compare-and-set, so a re-hash on login never overwrites a concurrent password change."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE users SET password_hash = $3, updated_at = now()"
                f" WHERE id = $1 AND password_hash = $2 RETURNING {USER_COLUMNS}",
                user_id,
                old_hash,
                new_hash,
            )
        return user_from_row(row) if row else None

    async def set_password_hash(self, user_id: int, new_hash: str) -> User | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE users SET password_hash = $2, updated_at = now()"
                f" WHERE id = $1 RETURNING {USER_COLUMNS}",
                user_id,
                new_hash,
            )
        return user_from_row(row) if row else None
