"""What each message says. Links keep their token in the URL fragment, which browsers never
send to a server, so it reaches no access log (docs/contract.md, Account recovery)."""

from typing import Final

from app.mail.message import Message

RESET_PATH: Final = "/account/reset"
VERIFY_PATH: Final = "/account/verify"


def link(public_url: str, path: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{path}#token={token}"


def reset_message(recipient: str, username: str, url: str, ttl_seconds: int) -> Message:
    minutes = max(1, ttl_seconds // 60)
    body = (
        f"Someone asked to reset the password of the keygate account {username!r}.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n{url}\n\n"
        "It works once. If you did not ask for this, ignore this message: your password\n"
        "stays as it is.\n"
    )
    return Message(recipient, f"Reset the password of {username}", body, url)


def verification_message(recipient: str, username: str, url: str, ttl_seconds: int) -> Message:
    hours = max(1, ttl_seconds // 3600)
    body = (
        f"To confirm that this address belongs to the keygate account {username!r},\n"
        f"open this link within {hours} hours:\n\n{url}\n\n"
        "If you did not ask for this, ignore this message.\n"
    )
    return Message(recipient, f"Verify your email address for {username}", body, url)


def address_changed_message(recipient: str, username: str) -> Message:
    body = (
        f"The email address of the keygate account {username!r} was changed, and this\n"
        "address no longer receives its password reset links.\n\n"
        "If you did not make this change, someone may know your password: contact your\n"
        "administrator.\n"
    )
    return Message(recipient, f"The email address of {username} was changed", body)
