"""The second factor at the HTTP edge."""

from typing import Annotated

from pydantic import BaseModel, Field

Code = Annotated[str, Field(min_length=1, max_length=32)]


class TotpEnrolment(BaseModel):
    secret: str = Field(description="base32, for typing into an authenticator app")
    otpauth_uri: str
    qr_svg: str = Field(description="the otpauth URI as a QR code (SVG), for scanning")


class TotpBegin(BaseModel):
    password: Annotated[str | None, Field(max_length=1024)] = Field(
        None, description="the current password (turning a second factor on needs it)"
    )


class TotpConfirm(BaseModel):
    code: Code


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="10 single-use codes; shown only once")


class TotpDisable(BaseModel):
    password: Annotated[str, Field(max_length=1024)]
    code: Code
