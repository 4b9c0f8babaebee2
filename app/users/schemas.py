"""Users at the HTTP edge."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.auth.passwords import MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, password_acceptable
from app.text import PlainText


def _password_length(password: str) -> str:
    if "\0" in password:
        raise ValueError("password must not contain NUL characters")
    if not password_acceptable(password):
        raise ValueError(
            f"password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes in UTF-8"
            " (bcrypt reads at most 72 bytes, and keygate never truncates a password)"
        )
    return password


Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{3,50}$")]
Password = Annotated[str, Field(max_length=MAX_PASSWORD_BYTES), AfterValidator(_password_length)]
FullName = Annotated[PlainText, StringConstraints(strip_whitespace=True, max_length=200)]
Email = Annotated[EmailStr, Field(max_length=254)]


class UserCreate(BaseModel):
    username: Username
    password: Password
    email: Email | None = None
    full_name: FullName | None = None


class UserUpdate(BaseModel):
    email: Email | None = None
    full_name: FullName | None = None


class PasswordChange(BaseModel):
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Password


class AdminUserUpdate(BaseModel):
    is_active: bool | None = None
    is_admin: bool | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    full_name: str | None
    is_active: bool
    is_admin: bool
    totp_enabled: bool
    created_at: datetime


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
