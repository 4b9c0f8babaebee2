"""Users and tokens made through the real service code."""

import base64
from dataclasses import dataclass

import httpx

from app.container import Container
from app.users.model import User

DEFAULT_PASSWORD = "correct horse battery staple"
# What the API shows of a user (docs/contract.md, GET /users/me): never a hash or secret.
USER_FIELDS = {
    "id",
    "username",
    "email",
    "email_verified",
    "full_name",
    "is_active",
    "is_admin",
    "totp_enabled",
    "created_at",
}


@dataclass(frozen=True)
class Login:
    access_token: str
    refresh_token: str
    scope: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def make_user(
    services: Container,
    username: str = "alice",
    password: str = DEFAULT_PASSWORD,
    *,
    is_admin: bool = False,
    email: str | None = None,
) -> User:
    return await services.registration.create(
        username=username, password=password, email=email, is_admin=is_admin
    )


async def login(
    client: httpx.AsyncClient,
    username: str = "alice",
    password: str = DEFAULT_PASSWORD,
    scope: str | None = None,
) -> Login:
    form = {"grant_type": "password", "username": username, "password": password}
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    return Login(body["access_token"], body["refresh_token"], body["scope"])


async def rotate(client: httpx.AsyncClient, tokens: Login) -> Login:
    """Uses `tokens`' refresh token once: the session goes on with the new pair returned."""
    response = await client.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Login(body["access_token"], body["refresh_token"], body["scope"])


def basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}
