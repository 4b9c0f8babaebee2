"""Users at the HTTP edge."""

import functools
from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core.text import PlainText, normalize_username
from app.users.model import User
from app.users.password_policy import password_problem

# Characters, not bytes: a cheap outer bound (a longer string is surely over 72 bytes) before
# the policy counts the bytes.
PASSWORD_MAX_CHARS = 1024

Username = Annotated[
    str,
    BeforeValidator(normalize_username),
    StringConstraints(pattern=r"^[A-Za-z0-9._-]{3,50}$"),
]
Password = Annotated[str, Field(max_length=PASSWORD_MAX_CHARS)]
FullName = Annotated[PlainText, StringConstraints(strip_whitespace=True, max_length=200)]
Email = Annotated[EmailStr, Field(max_length=254)]


class UserCreate(BaseModel):
    username: Username
    password: Password
    email: Email | None = None
    full_name: FullName | None = None

    @field_validator("password")
    @classmethod
    def _policy(cls, password: str, info: ValidationInfo) -> str:
        problem = password_problem(password, info.data.get("username", ""))
        if problem:
            raise ValueError(problem)
        return password


class UserUpdate(BaseModel):
    email: Email | None = None
    full_name: FullName | None = None
    # Needed when `email` changes (docs/contract.md, Account recovery).
    current_password: Password | None = None


class PasswordChange(BaseModel):
    current_password: Password
    new_password: Password

    @field_validator("new_password")
    @classmethod
    def _policy(cls, password: str) -> str:
        # The username rule needs the caller: UserService.change_password applies it.
        problem = password_problem(password, "")
        if problem:
            raise ValueError(problem)
        return password


class AdminUserUpdate(BaseModel):
    is_active: bool | None = None
    is_admin: bool | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    email_verified: bool
    full_name: str | None
    is_active: bool
    is_admin: bool
    totp_enabled: bool
    created_at: datetime


@functools.lru_cache(maxsize=4096)
def user_json(user: User) -> bytes:
    """A user as UserOut's JSON, made once per version of the record: a warm user's record is
    decoded once and shared (app/authcache/records.py), so GET /users/me, the hottest
    authenticated path, neither validates nor serialises again until the user changes."""
    return UserOut.model_validate(user).model_dump_json().encode()


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool
