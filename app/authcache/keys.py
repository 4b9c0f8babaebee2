"""Redis keys of the auth cache, the second factor and the session journal (prefix `kg:`).

Auth cache (app/authcache/cache.py), each for AUTH_CACHE_TTL_SECONDS:
- `{u<id>}:user` and `login:<lower(username)>`: the User that login and the security
  dependency need (JSON);
- `{u<user id>}:session:<uuid>`: SessionState (JSON), for min(AUTH_CACHE_TTL_SECONDS, time
  to expiry); a revoked session is kept as a tombstone rather than deleted.
A user's entry and their sessions' share the hash tag `{u<id>}`: the bearer path reads a user
and a session in one MGET, which a Redis Cluster allows only within one hash slot. Every other
operation on several keys is split per slot (non-transactional pipelines, DEL, SCAN) or takes
one key per Lua call.
The throttle's windows (`fail:*`, `reg:*`) are named beside the throttle, in
app/login/keys.py.
Second factor (app/mfa/verification.py):
- `totp-step:<user id>`: the last TOTP time step used, a little longer than the drift window.
Sessions started while PostgreSQL was down: `journalled-sessions`, named and kept by the
sessions layer (app/sessions/journal.py).

Redis holds nothing that cannot be rebuilt from PostgreSQL, and never a password or an
unkeyed digest of one.
"""

import functools
import uuid
from typing import Final

PREFIX: Final = "kg:"


def _user_tag(user_id: int) -> str:
    return f"{PREFIX}{{u{user_id}}}:"


def user_key(user_id: int) -> str:
    return f"{_user_tag(user_id)}user"


def login_key(username: str) -> str:
    return f"{PREFIX}login:{username.lower()}"


# Every warm bearer request asks for the key of its session, and formatting a UUID is the
# larger part of making it: the keys of the sessions in use are kept.
@functools.lru_cache(maxsize=4096)
def session_key(user_id: int, session_id: uuid.UUID) -> str:
    return f"{_user_tag(user_id)}session:{session_id}"


def totp_step_key(user_id: int) -> str:
    return f"{PREFIX}totp-step:{user_id}"


def keys_of(users: list[tuple[int, str]], sessions: list[tuple[int, uuid.UUID]]) -> list[str]:
    """The cache entries of these users (id, username) and sessions (user id, session id)."""
    keys = [user_key(u) for u, _ in users] + [login_key(name) for _, name in users]
    return keys + [session_key(u, s) for u, s in sessions]
