"""The throttle's Redis keys (sorted sets of attempt times, all prefixed `kg:`):

- `fail:ua:<account>:<address>`, `fail:u:<account>`, `fail:a:<address>`: password attempts,
  LOGIN_LOCKOUT_SECONDS; `<account>` is `user:<id>` for an account whatever its spelling,
  else the name as PostgreSQL folds it, or a digest of a name no username can be;
  `<address>` an IPv4 address or an IPv6 /64;
- `fail:dev:<digest>`: password attempts that brought a device token, LOGIN_LOCKOUT_SECONDS;
  `<digest>` the token's stored digest (app/login/device_tokens.py), never the token;
- `fail:otp:<user id>`: second-factor attempts, LOGIN_LOCKOUT_SECONDS;
- `reg:<address>`: registrations, REGISTRATION_WINDOW_SECONDS;
- `recovery:a:<address>`, `recovery:u:<user id>`: recovery and verification requests from
  an address, and messages to an account, RECOVERY_WINDOW_SECONDS (app/recovery/service.py).

While Redis is unreachable the same keys name the windows kept in PostgreSQL
(app/login/failure_repository.py). The auth cache's keys are in app/authcache/keys.py."""

from typing import Final

PREFIX: Final = "kg:"


def failures_of_account_from_address_key(account: str, address: str) -> str:
    return f"{PREFIX}fail:ua:{account}:{address}"


def failures_of_account_key(account: str) -> str:
    return f"{PREFIX}fail:u:{account}"


def failures_from_address_key(address: str) -> str:
    return f"{PREFIX}fail:a:{address}"


def failures_of_device_key(digest: str) -> str:
    return f"{PREFIX}fail:dev:{digest}"


def code_failures_key(user_id: int) -> str:
    return f"{PREFIX}fail:otp:{user_id}"


def registrations_from_address_key(address: str) -> str:
    return f"{PREFIX}reg:{address}"


def recovery_requests_from_address_key(address: str) -> str:
    return f"{PREFIX}recovery:a:{address}"


def recovery_messages_to_account_key(user_id: int) -> str:
    return f"{PREFIX}recovery:u:{user_id}"
