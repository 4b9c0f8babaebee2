"""keygate's mfa-otp grant: the second step of a password login, exchanging the mfa_token of
the 403 and a code for tokens."""

from typing import ClassVar

from app.core.errors import InvalidGrant
from app.login.throttle import account_of_user
from app.oauth.grant import Grant, GrantRequest
from app.oauth.issuer import IssuedTokens


class MfaOtpGrant(Grant):
    grant_type: ClassVar[str] = "urn:keygate:params:oauth:grant-type:mfa-otp"
    summary: ClassVar[str] = (
        "exchanges that `mfa_token` (5 minutes, single use) and `otp` (the authenticator's"
        " 6-digit code, or a recovery code) for tokens, and a `device_token`."
    )
    fields: ClassVar[dict[str, str]] = {
        "mfa_token": "mfa-otp grant: from the 403",
        "otp": "mfa-otp grant: the code (or a recovery code)",
    }

    async def issue(self, request: GrantRequest) -> IssuedTokens:
        services = self.services
        mfa_token = request.required("mfa_token")
        otp = request.required("otp")
        challenge = await services.challenges.live(mfa_token)
        if challenge is None:
            raise services.failed("mfa_otp")
        found = await services.directory.user_record(challenge.user_id)
        user = found.user
        if user is None or not user.is_active:
            raise services.failed("mfa_otp")
        account = account_of_user(user.id)
        ip = request.origin.ip
        # Both attempts are counted before the code is checked; a wrong code keeps both.
        async with (
            services.throttle.code_attempt(user.id),
            services.throttle.password_attempt(account, ip),
        ):
            if not await services.codes.verify(user, otp):
                await services.challenges.fail(mfa_token)
                raise services.failed("mfa_otp")
            if not await services.challenges.consume(mfa_token):
                raise InvalidGrant  # used meanwhile by a concurrent exchange
        await services.throttle.logged_in(account, ip)
        granted = frozenset(challenge.scope.split()) & user.scopes
        device_token = await services.devices.issue(user.id)
        return await services.start(
            user, granted, request.origin, "mfa_otp", found.source, device_token=device_token
        )
