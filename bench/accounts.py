"""The benchmark's users, made through the API as a client would, and the credentials it sends."""

import base64
import secrets
from dataclasses import dataclass
from typing import Final

import httpx

LOGIN_USERS: Final = 8  # /token cycles through them, as many different people would log in
TIMEOUT_SECONDS: Final = 30


class ApiError(Exception):
    pass


@dataclass(frozen=True)
class Accounts:
    usernames: tuple[str, ...]
    password: str  # letters and digits only: it goes into form bodies as it is

    @classmethod
    def new(cls) -> "Accounts":
        return cls(
            usernames=tuple(f"bench{n}" for n in range(1, LOGIN_USERS + 1)),
            password=secrets.token_hex(16),
        )

    @property
    def main_user(self) -> str:
        return self.usernames[0]

    @property
    def basic_credentials(self) -> str:
        return base64.b64encode(f"{self.main_user}:{self.password}".encode()).decode()


def expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise ApiError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} (expected {status}): {response.text[:300]}"
        )
    return response


def register(url: str, accounts: Accounts) -> None:
    with httpx.Client(base_url=url, timeout=TIMEOUT_SECONDS) as client:
        for username in accounts.usernames:
            body = {"username": username, "password": accounts.password}
            expect(client.post("/users", json=body), 201)


def register_with_addresses(url: str, usernames: tuple[str, ...], password: str) -> None:
    """Accounts with an email address each (already there from an earlier server: fine)."""
    with httpx.Client(base_url=url, timeout=TIMEOUT_SECONDS) as client:
        for username in usernames:
            body = {"username": username, "password": password, "email": f"{username}@example.org"}
            response = client.post("/users", json=body)
            if response.status_code != 409:
                expect(response, 201)


def access_token(url: str, accounts: Accounts) -> str:
    """Logs the main user in: this also warms the auth cache (when the cache is on)."""
    form = {
        "grant_type": "password",
        "username": accounts.main_user,
        "password": accounts.password,
    }
    response = expect(httpx.post(f"{url}/token", data=form, timeout=TIMEOUT_SECONDS), 200)
    token: str = response.json()["access_token"]
    return token


def check_authenticated(url: str, path: str, authorization: str, source: str | None) -> None:
    """One request as the load will send it: 200, and checked from the cache when `source`
    says so (the Server-Timing header of ../shared/API.md §5)."""
    response = expect(
        httpx.get(f"{url}{path}", headers={"Authorization": authorization}, timeout=30), 200
    )
    timing = response.headers.get("server-timing", "")
    if source is not None and f'desc="{source}"' not in timing:
        raise ApiError(f"GET {path} was checked by {timing!r}, not from the {source}")
