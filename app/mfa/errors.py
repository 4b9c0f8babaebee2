"""What the second factor refuses."""

from app.core.errors import Conflict, Rejected


class InvalidCode(Rejected):
    message = "the code is wrong or was already used"


class TotpAlreadyEnabled(Conflict):
    message = "TOTP is already enabled"


class TotpNotEnabled(Conflict):
    message = "TOTP is not enabled"


class NoEnrolment(Conflict):
    message = "no TOTP enrolment in progress: POST /users/me/totp first"
