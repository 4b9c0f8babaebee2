"""What the auth cache stores, and how it is written to and read from Redis."""

import functools
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Final

from app.core.redis_reads import RawValue
from app.sessions.state import SessionState
from app.users.model import User

# Every warm request decodes the same few records again and again. Decoding is a function of
# the stored bytes alone and the results are frozen, so the same bytes can share one result;
# a changed record is other bytes, decoded anew. (~10 us a warm bearer request.)
DECODED_ENTRIES: Final = 4096


def encode_user(user: User) -> bytes:
    fields = asdict(user)
    fields["created_at"] = user.created_at.isoformat()
    return json.dumps(fields, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=DECODED_ENTRIES)
def decode_user(raw: RawValue) -> User | None:
    """None for a miss, and for an entry of another shape (written by an older version):
    that is a miss too, answered from PostgreSQL until the entry expires."""
    if not raw:
        return None
    try:
        fields = json.loads(raw)
        fields["created_at"] = datetime.fromisoformat(fields["created_at"])
        return User(**fields)
    except (ValueError, TypeError, KeyError):
        return None


@dataclass(frozen=True, slots=True)
class NoSuchUser:
    """A login name no user has, cached as such so that an unknown name is looked up (and
    counted in /metrics) exactly as a known one: from the cache once it has been seen."""

    folded_name: str  # the name as PostgreSQL folds it: the throttle's account for it


def encode_no_such_user(entry: NoSuchUser) -> bytes:
    return json.dumps({"no_such_user": entry.folded_name}).encode()


@functools.lru_cache(maxsize=DECODED_ENTRIES)
def decode_login(raw: RawValue) -> User | NoSuchUser | None:
    """A login entry: a user, a name known to have none, or None for a miss."""
    if isinstance(raw, str):
        raw = raw.encode()
    if raw and raw.startswith(b'{"no_such_user":'):
        try:
            return NoSuchUser(str(json.loads(raw)["no_such_user"]))
        except (ValueError, TypeError, KeyError):
            return None
    return decode_user(raw)


def encode_session(state: SessionState) -> bytes:
    return json.dumps(
        [str(state.session_id), state.user_id, state.expires_at, state.is_revoked]
    ).encode()


@functools.lru_cache(maxsize=DECODED_ENTRIES)
def decode_session(raw: RawValue) -> SessionState | None:
    if not raw:
        return None
    session_id, user_id, expires_at, is_revoked = json.loads(raw)
    return SessionState(uuid.UUID(session_id), user_id, expires_at, is_revoked)
