"""A refresh token that reaches PostgreSQL while it is being rotated (a session journalled
during an outage, copied in by another worker at that moment) is rotated, never taken for a
reused one: no session ends that nobody reused (docs/contract.md §6, §8)."""

import asyncio
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

from app.sessions.repository import RotationOutcome, SessionRepository, SessionRow
from tests.factories import make_user

ARRIVALS: Final = 60
# The copy starts at a random moment within this, while the rotation is being tried.
COPY_WITHIN_SECONDS: Final = 0.003
ROTATION_TIMEOUT_SECONDS: Final = 10


def _journalled(user_id: int) -> SessionRow:
    now = datetime.now(UTC)
    return SessionRow(
        id=uuid.uuid4(),
        user_id=user_id,
        scope="me",
        user_agent="journalled",
        ip="203.0.113.9",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=1),
        revoked_at=None,
    )


async def _rotate_until_known(sessions: SessionRepository, token_hash: bytes) -> RotationOutcome:
    """Rotates as a refresh does, again and again while the token is not there yet."""
    while True:
        rotation = await sessions.rotate_refresh_token(token_hash, os.urandom(32), lambda _: None)
        if rotation.outcome is not RotationOutcome.UNKNOWN:
            return rotation.outcome


async def test_a_token_committed_during_its_rotation_is_rotated_and_its_session_lives(
    services, database
):
    user = await make_user(services)
    sessions = SessionRepository(services.db)
    outcomes = []
    for _ in range(ARRIVALS):
        token_hash = os.urandom(32)
        rotating = asyncio.create_task(_rotate_until_known(sessions, token_hash))
        await asyncio.sleep(random.uniform(0, COPY_WITHIN_SECONDS))
        await sessions.insert_journalled([(_journalled(user.id), token_hash)])
        outcomes.append(await asyncio.wait_for(rotating, ROTATION_TIMEOUT_SECONDS))
    revoked = await database.fetchval(
        "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL", user.id
    )

    assert outcomes == [RotationOutcome.ROTATED] * ARRIVALS
    assert revoked == 0
