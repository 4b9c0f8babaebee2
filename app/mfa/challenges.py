"""The mfa_token of the password grant: 5 minutes, single use, dead after too many wrong
codes. Kept in PostgreSQL by its SHA-256 only."""

from datetime import UTC, datetime, timedelta
from typing import Final

from app.core.clock import Clock
from app.mfa.repository import Challenge, TotpRepository
from app.sessions.opaque_tokens import is_plausible, new_token, token_hash

MFA_TOKEN_TTL_SECONDS: Final = 300


class Challenges:
    def __init__(self, *, repository: TotpRepository, clock: Clock, max_failures: int) -> None:
        self._repository = repository
        self._clock = clock
        self._max_failures = max_failures

    async def start(self, user_id: int, scope: str) -> str:
        token = new_token()
        await self._repository.create_challenge(
            token_hash=token_hash(token),
            user_id=user_id,
            scope=scope,
            expires_at=self._now() + timedelta(seconds=MFA_TOKEN_TTL_SECONDS),
        )
        return token

    async def live(self, mfa_token: str) -> Challenge | None:
        if not is_plausible(mfa_token):
            return None
        return await self._repository.live_challenge(
            token_hash(mfa_token), now=self._now(), max_failures=self._max_failures
        )

    async def fail(self, mfa_token: str) -> None:
        await self._repository.fail_challenge(token_hash(mfa_token))

    async def consume(self, mfa_token: str) -> bool:
        return await self._repository.consume_challenge(
            token_hash(mfa_token), now=self._now(), max_failures=self._max_failures
        )

    async def delete_ended(self) -> None:
        await self._repository.delete_ended_challenges(before=self._now())

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)
