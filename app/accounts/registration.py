"""New accounts: self-service registration, limited per address, and accounts made by an
operator. Hashing runs on the accounts' bcrypt lane, never in a login's place.

A registration answered 503 is not written later where that can be helped (the INSERT runs
in a transaction that a cut connection rolls back). Where it cannot (PostgreSQL hung after
the COMMIT was sent), the client's retry is harmless: the same username, password, email
and full name within RETRY_WINDOW_SECONDS of the account's creation get a 409 that says the
account exists with that password, so the client knows to log in (docs/contract.md §6).
Concurrent registrations of one name still get one 201."""

from typing import Final

from app.authcache.directory import AuthDirectory
from app.core.client_address import address_bucket
from app.core.clock import Clock
from app.core.errors import Forbidden
from app.login.keys import registrations_from_address_key
from app.login.window import Window
from app.login.windows import SlidingWindows
from app.users.model import User
from app.users.passwords import PasswordHasher
from app.users.repository import UsernameTaken, UserRepository

RETRY_WINDOW_SECONDS: Final = 600


class AlreadyRegistered(UsernameTaken):
    message = (
        "an account with this username and password exists already (an earlier registration"
        " went through): log in"
    )


class RegistrationClosed(Forbidden):
    message = "registration is closed"


class Registration:
    def __init__(
        self,
        *,
        users: UserRepository,
        directory: AuthDirectory,
        hasher: PasswordHasher,
        windows: SlidingWindows,
        is_open: bool,
        max_per_address: int,
        window_seconds: int,
        clock: Clock,
    ) -> None:
        self._users = users
        self._clock = clock
        self._directory = directory
        self._hasher = hasher
        self._windows = windows
        self._is_open = is_open
        self._max_per_address = max_per_address
        self._window_seconds = window_seconds

    async def register(
        self,
        *,
        username: str,
        password: str,
        email: str | None,
        full_name: str | None,
        ip: str | None,
    ) -> User:
        """Self-service registration (POST /users), when REGISTRATION_OPEN: at most
        REGISTRATION_MAX_PER_ADDRESS per address (an IPv6 /64) and window, counted before any
        work, so a flood costs one Redis call per request past the limit."""
        if not self._is_open:
            raise RegistrationClosed
        key = registrations_from_address_key(address_bucket(ip))
        await self._windows.take([Window(key, self._max_per_address, self._window_seconds)])
        return await self.create(
            username=username, password=password, email=email, full_name=full_name
        )

    async def create(
        self,
        *,
        username: str,
        password: str,
        email: str | None = None,
        full_name: str | None = None,
        is_admin: bool = False,
    ) -> User:
        """Every account is made here, by POST /users and by `keygate users create` alike
        (both validate the input with the same UserCreate first), so a rule added to either
        holds for both. Raises UsernameTaken when the name is taken."""
        # A taken name is refused before bcrypt runs (the unique index still decides races).
        existing = await self._users.get_by_username(username)
        if existing is None:
            password_hash = await self._hasher.hash(password)
            try:
                user = await self._users.create(
                    username=username,
                    password_hash=password_hash,
                    email=email,
                    full_name=full_name,
                    is_admin=is_admin,
                )
            except UsernameTaken:
                existing = await self._users.get_by_username(username)
            else:
                await self._directory.publish_new_user(user)
                return user
        if existing is not None and await self._is_a_retry(
            existing, password, email=email, full_name=full_name, is_admin=is_admin
        ):
            raise AlreadyRegistered
        raise UsernameTaken

    async def _is_a_retry(
        self,
        user: User,
        password: str,
        *,
        email: str | None,
        full_name: str | None,
        is_admin: bool,
    ) -> bool:
        """Whether `user` is what this same request made before (its answer lost)."""
        if self._clock() - user.created_at.timestamp() > RETRY_WINDOW_SECONDS:
            return False
        if (user.email, user.full_name, user.is_admin) != (email, full_name, is_admin):
            return False
        return (await self._hasher.verify_current(password, user.password_hash)).is_valid
