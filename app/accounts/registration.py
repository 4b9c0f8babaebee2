"""New accounts: self-service registration, limited per address, and accounts made by an
operator. Hashing runs on the accounts' bcrypt lane, never in a login's place."""

from app.core.client_address import address_bucket
from app.core.errors import Forbidden
from app.login.keys import registrations_from_address_key
from app.login.window import Window
from app.login.windows import SlidingWindows
from app.users.model import User
from app.users.passwords import PasswordHasher
from app.users.repository import UsernameTaken, UserRepository


class RegistrationClosed(Forbidden):
    message = "registration is closed"


class Registration:
    def __init__(
        self,
        *,
        users: UserRepository,
        hasher: PasswordHasher,
        windows: SlidingWindows,
        is_open: bool,
        max_per_address: int,
        window_seconds: int,
    ) -> None:
        self._users = users
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
        # A taken name is refused before bcrypt runs (the unique index still decides races).
        if await self._users.get_by_username(username) is not None:
            raise UsernameTaken
        password_hash = await self._hasher.hash(password)
        return await self._users.create(
            username=username,
            password_hash=password_hash,
            email=email,
            full_name=full_name,
            is_admin=is_admin,
        )
