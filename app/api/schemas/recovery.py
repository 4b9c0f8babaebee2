"""Account recovery at the HTTP edge (docs/contract.md, Account recovery)."""

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from app.api.schemas.users import Password

# Loose on purpose: any name or address may be asked about, and the answer is the same.
Lookup = Annotated[str, Field(min_length=1, max_length=254)]
# Longer than any token keygate makes, so a pasted link with a little extra still reaches the
# check that names it unknown.
Token = Annotated[str, Field(min_length=1, max_length=1024)]


class ResetRequest(BaseModel):
    username: Lookup | None = None
    email: Lookup | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.username is None) == (self.email is None):
            raise ValueError("give either username or email")
        return self


class ResetConfirmation(BaseModel):
    token: Token
    new_password: Password


class VerificationConfirmation(BaseModel):
    token: Token


class Accepted(BaseModel):
    detail: str
