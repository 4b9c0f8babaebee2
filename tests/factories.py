"""Users and tokens made through the real service code."""

import base64
from dataclasses import dataclass

import httpx

from app.lifespan import Services
from app.users.repository import UserRecord

DEFAULT_PASSWORD = "correct horse battery staple"
# What the API shows of a user (../shared/API.md §5, GET /users/me): never a hash or secret.
USER_FIELDS = {
    "id",
    "username",
    "email",
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
    services: Services,
    username: str = "alice",
    password: str = DEFAULT_PASSWORD,
    *,
    is_admin: bool = False,
    email: str | None = None,
) -> UserRecord:
    return await services.user_service.register(
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


def basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}
