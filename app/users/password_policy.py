"""Password rules after NIST SP 800-63B §5.1.1.2: long enough, at most what bcrypt reads, not
a commonly used password, not containing the username. Lengths are UTF-8 bytes at both ends
(8 to 72), as the contract fixes them (docs/contract.md, Users)."""

from functools import cache

from app.core.errors import InvalidField
from app.users.passwords import MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES


@cache
def common_passwords() -> frozenset[str]:
    # zxcvbn ships the 30,000 most frequent passwords of public breach corpora.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

    return frozenset(p for p in FREQUENCY_LISTS["passwords"] if len(p) >= MIN_PASSWORD_BYTES)


def password_problem(password: str, username: str) -> str | None:
    size = len(password.encode())
    if size < MIN_PASSWORD_BYTES:
        return f"password must be at least {MIN_PASSWORD_BYTES} bytes in UTF-8"
    if size > MAX_PASSWORD_BYTES:
        return (
            f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (it is {size}):"
            " bcrypt reads no more, and keygate never truncates a password"
        )
    if "\0" in password:
        return "password must not contain NUL characters"
    lowered = password.lower()
    if lowered in common_passwords():
        return "password is too common: choose one that is not on breached-password lists"
    if username and username.lower() in lowered:
        return "password must not contain the username"
    return None


def check_password(password: str, username: str, field: str = "password") -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise InvalidField(field, problem)
