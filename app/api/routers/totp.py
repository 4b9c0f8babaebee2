"""/users/me/totp: enrol, confirm and disable the TOTP second factor."""

from fastapi import APIRouter

from app.api.deps import Accounts, ClientDep, Enrolment, Me
from app.api.schemas.totp import RecoveryCodes, TotpConfirm, TotpDisable, TotpEnrolment

router = APIRouter(prefix="/users/me/totp", tags=["two-factor"])


@router.post("", status_code=201, responses={409: {"description": "TOTP is already enabled"}})
async def begin_enrolment(principal: Me, enrolment: Enrolment) -> TotpEnrolment:
    """Begins (or restarts) enrolment. TOTP is on only after a confirmed code."""
    begun = await enrolment.begin(principal.user_id, principal.user.username)
    return TotpEnrolment(secret=begun.secret, otpauth_uri=begun.otpauth_uri, qr_svg=begun.qr_svg)


@router.post("/confirm", responses={400: {}, 409: {}})
async def confirm_enrolment(
    body: TotpConfirm, principal: Me, enrolment: Enrolment
) -> RecoveryCodes:
    codes = await enrolment.confirm(principal.user_id, body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/disable", status_code=204, responses={400: {}, 409: {}})
async def disable(body: TotpDisable, principal: Me, accounts: Accounts, client: ClientDep) -> None:
    """Needs the password and a code (TOTP or recovery); ends the user's other sessions."""
    await accounts.disable_totp(
        principal.user_id,
        password=body.password,
        code=body.code,
        keep_session=principal.session_id,
        ip=client.ip,
    )
