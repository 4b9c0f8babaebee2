"""Account recovery by email (docs/contract.md, Account recovery)."""

from fastapi import APIRouter

from app.api.deps import Me, Origin, Recovery
from app.api.presolved_route import PresolvedRoute
from app.api.schemas.recovery import (
    Accepted,
    ResetConfirmation,
    ResetRequest,
    VerificationConfirmation,
)

router = APIRouter(prefix="/users", tags=["users"], route_class=PresolvedRoute)

RESET_ACCEPTED = Accepted(
    detail="if an active account with an email address matches, a reset link is on its way"
)
VERIFICATION_ACCEPTED = Accepted(detail="a verification link is on its way")


@router.post("/password-reset", status_code=202, responses={429: {}, 503: {}})
async def request_password_reset(
    body: ResetRequest, recovery: Recovery, origin: Origin
) -> Accepted:
    """Sends a password reset link to the account named by `username`, or to every active
    account with the address `email`. The answer is the same whether or not such an account
    exists, so it tells nobody which accounts exist; the link works once, for
    PASSWORD_RESET_TTL_SECONDS."""
    await recovery.request_reset(username=body.username, email=body.email, ip=origin.ip)
    return RESET_ACCEPTED


@router.post("/password-reset/confirm", status_code=204, responses={400: {}, 503: {}})
async def confirm_password_reset(body: ResetConfirmation, recovery: Recovery) -> None:
    """Sets a new password with the token from a reset link. Every session of the account
    ends and the old password stops working at once; two-step sign-in stays as it was. 400
    when the link is unknown, used, expired or superseded by a newer one."""
    await recovery.confirm_reset(body.token, body.new_password)


@router.post("/me/email-verification", status_code=202, responses={409: {}, 429: {}, 503: {}})
async def request_email_verification(principal: Me, recovery: Recovery, origin: Origin) -> Accepted:
    """Sends a verification link to the caller's email address. 409 when the account has no
    address or it is already verified."""
    await recovery.request_verification(principal.user_id, origin.ip)
    return VERIFICATION_ACCEPTED


@router.post("/email-verification/confirm", status_code=204, responses={400: {}})
async def confirm_email_verification(body: VerificationConfirmation, recovery: Recovery) -> None:
    """Marks the address a verification link was sent to as verified. 400 when the link is
    unknown, used or expired, or the account's address has changed since."""
    await recovery.confirm_verification(body.token)
