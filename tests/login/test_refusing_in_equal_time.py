"""An unknown user, a wrong password and a user whose stored hash is cheaper than
BCRYPT_ROUNDS take equally long to refuse (docs/contract.md): the time of a refusal tells
nothing about the account.

The one timed assertion of these tests, because the claim is about time: it compares medians
of attempts interleaved with one another (so load on the machine weighs on every kind
alike), as a ratio, never against an absolute duration."""

import statistics
import time

from tests.factories import make_user
from tests.fixtures.attacks import WRONG, client_at, password_form

ROUNDS = 10  # ~60 ms a check here: far above the noise of one request
ATTEMPTS = 5
MAX_RATIO = 1.5


async def test_unknown_users_wrong_passwords_and_cheap_hashes_are_refused_in_equal_time(
    start_app, database
):
    app = await start_app(bcrypt_rounds=ROUNDS)
    await make_user(app.services, "alice")
    # What an operator may write (docs/contract.md): a working user with a cost-4 hash.
    await database.execute(
        "INSERT INTO users (username, password_hash)"
        " VALUES ('cheap', crypt('pw', gen_salt('bf', 4)))"
    )
    kinds = {
        "unknown user": "ghost",
        "wrong password": "alice",
        "cheap hash, wrong password": "cheap",
        "name no user can have": "x" * 51,
    }
    durations: dict[str, list[float]] = {kind: [] for kind in kinds}
    # A round first that is not measured: connections, caches and the dummy hash warm up.
    for attempt in range(ATTEMPTS + 1):
        for n, (kind, username) in enumerate(kinds.items()):
            # Each attempt from its own address: no throttling window fills up.
            async with client_at(app, f"198.51.100.{attempt * len(kinds) + n + 1}") as client:
                started = time.perf_counter()
                response = await client.post("/token", data=password_form(username, WRONG))
                elapsed = time.perf_counter() - started
            assert response.status_code == 400, (kind, response.text)
            if attempt:
                durations[kind].append(elapsed)

    medians = {kind: statistics.median(times) for kind, times in durations.items()}
    assert max(medians.values()) <= MAX_RATIO * min(medians.values()), medians
