"""/users/me/totp: enrol, confirm and disable the TOTP second factor."""

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.deps import AppServices, Me

router = APIRouter(prefix="/users/me/totp", tags=["two-factor"])

Code = Annotated[str, Field(min_length=1, max_length=32)]


class TotpEnrolment(BaseModel):
    secret: str = Field(description="base32, for typing into an authenticator app")
    otpauth_uri: str
    qr_svg: str = Field(description="the otpauth URI as a QR code (SVG), for scanning")


class TotpConfirm(BaseModel):
    code: Code


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(description="10 single-use codes; shown only once")


class TotpDisable(BaseModel):
    password: Annotated[str, Field(max_length=1024)]
    code: Code


@router.post("", status_code=201, responses={409: {"description": "TOTP is already enabled"}})
async def begin_enrolment(principal: Me, services: AppServices) -> TotpEnrolment:
    """Begins (or restarts) enrolment. TOTP is on only after a confirmed code."""
    enrolment = await services.second_factor.enrol(principal.user_id, principal.user.username)
    return TotpEnrolment(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )


@router.post("/confirm", responses={400: {}, 409: {}})
async def confirm_enrolment(
    body: TotpConfirm, principal: Me, services: AppServices
) -> RecoveryCodes:
    codes = await services.second_factor.confirm(principal.user_id, body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/disable", status_code=204, responses={400: {}, 409: {}})
async def disable(body: TotpDisable, principal: Me, services: AppServices) -> None:
    """Needs the password and a code (TOTP or recovery); ends the user's other sessions."""
    await services.second_factor.disable(
        principal.user_id,
        password=body.password,
        code=body.code,
        keep_session=principal.session_id,
    )
