"""/users/me/totp: enrol, confirm and disable the TOTP second factor."""

from fastapi import APIRouter

from app.api.deps import Accounts, Enrolment, Me, Origin
from app.api.presolved_route import PresolvedRoute
from app.api.schemas.totp import (
    RecoveryCodes,
    TotpBegin,
    TotpConfirm,
    TotpDisable,
    TotpEnrolment,
)

router = APIRouter(prefix="/users/me/totp", tags=["two-factor"], route_class=PresolvedRoute)


@router.post(
    "",
    status_code=201,
    responses={
        400: {"description": "The current password is missing or wrong"},
        409: {"description": "TOTP is already enabled"},
        429: {"description": "Too many wrong passwords; try again after Retry-After"},
    },
)
async def begin_enrolment(
    principal: Me, accounts: Accounts, origin: Origin, body: TotpBegin | None = None
) -> TotpEnrolment:
    """Begins (or restarts) enrolment; needs the current `password`, and a wrong one counts
    as a failed login attempt. TOTP is on only after a confirmed code."""
    begun = await accounts.begin_totp_enrolment(
        principal.user_id, password=body.password if body else None, ip=origin.ip
    )
    return TotpEnrolment(secret=begun.secret, otpauth_uri=begun.otpauth_uri, qr_svg=begun.qr_svg)


@router.post("/confirm", responses={400: {}, 409: {}})
async def confirm_enrolment(
    body: TotpConfirm, principal: Me, enrolment: Enrolment
) -> RecoveryCodes:
    codes = await enrolment.confirm(principal.user_id, body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/disable", status_code=204, responses={400: {}, 409: {}})
async def disable(body: TotpDisable, principal: Me, accounts: Accounts, origin: Origin) -> None:
    """Needs the password and a code (TOTP or recovery); ends the user's other sessions."""
    await accounts.disable_totp(
        principal.user_id,
        password=body.password,
        code=body.code,
        keep_session=principal.session_id,
        ip=origin.ip,
    )
