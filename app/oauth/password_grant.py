"""The password grant (RFC 6749 §4.3), with an optional one-step `otp` for users with TOTP."""

from typing import ClassVar, Final

from app.core.errors import MfaRequired
from app.login.password_check import PasswordRefused
from app.oauth.grant import Grant, GrantRequest
from app.oauth.issuer import IssuedTokens, grant_scopes
from app.users.scopes import format_scopes

DEVICE_TOKEN_FIELD: Final = "device_token"  # noqa: S105 (a field name)


class PasswordGrant(Grant):
    grant_type: ClassVar[str] = "password"
    summary: ClassVar[str] = (
        "`username`, `password`, optional `scope`. A user with TOTP gets"
        ' `403 {"error": "mfa_required", "mfa_token": ...}` unless the request also carries'
        " `otp`. A success also returns a `device_token` (and sets it as a cookie): sent back"
        " with later logins, it keeps this device logging in while others lock the account"
        " out."
    )
    fields: ClassVar[dict[str, str]] = {
        "username": "password grant",
        "password": "password grant",
        "otp": "password grant, users with TOTP: the code (or a recovery code) in the same"
        " request, instead of the mfa_token exchange",
        DEVICE_TOKEN_FIELD: "password grant: the device_token of an earlier login on this"
        " device (the cookie is read when this is absent)",
    }

    async def issue(self, request: GrantRequest) -> IssuedTokens:
        services = self.services
        scope = request.scope
        otp = request.optional("otp")
        device_token = request.optional(DEVICE_TOKEN_FIELD)
        ip = request.origin.ip
        username = request.required("username")
        services.passwords.ensure_room(ip)
        attempt = await services.passwords.find(username)
        device = await services.passwords.device_of(attempt, device_token)
        try:
            async with services.passwords.checked(
                attempt, request.required("password"), ip, device=device
            ) as user:
                granted = grant_scopes(scope, user.scopes)
                if user.totp_enabled and otp is not None:
                    async with services.throttle.code_attempt(user.id):
                        if not await services.codes.verify(user, otp):
                            raise services.failed("password")  # both attempts stay counted
        except PasswordRefused:
            raise services.failed("password") from None
        if user.totp_enabled and otp is None:
            # The password was right (the 403 says so): its place was given back, and the
            # mfa-otp exchange counts its own attempts.
            mfa_token = await services.challenges.start(user.id, format_scopes(granted))
            services.metrics.logins.labels("password", "mfa_required").inc()
            raise MfaRequired(mfa_token)
        await services.passwords.logged_in(attempt, ip)
        if device is None:  # this device has no token yet, or one that counts for nothing
            device_token = await services.devices.issue(user.id)
        return await services.start(
            user,
            granted,
            request.origin,
            "password",
            attempt.found.source,
            device_token=device_token,
        )
