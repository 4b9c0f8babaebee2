"""An unknown user, a wrong password and an inactive user are told apart by nothing: status,
body, headers, and (within noise) time, because an unknown user still pays bcrypt
(docs/contract.md)."""

import statistics
import time

from tests.factories import basic, make_user
from tests.fixtures.signed_in_users import password_form

WRONG = "not the password at all"
TRIES = 15
# Headers that differ on every response whatever the outcome.
PER_REQUEST_HEADERS = {"x-request-id", "date"}


def comparable(response):
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}
    return response.status_code, response.content, headers


async def test_unknown_user_wrong_password_and_inactive_user_get_the_same_answer(client, services):
    await make_user(services, "alice")
    inactive = await make_user(services, "bob")
    await services.accounts.set_flags(inactive.id, is_active=False, is_admin=None)

    unknown_user = await client.post("/token", data=password_form("nobody"))
    wrong_password = await client.post("/token", data=password_form("alice", WRONG))
    inactive_user = await client.post("/token", data=password_form("bob"))

    assert unknown_user.status_code == 400
    assert unknown_user.json()["error"] == "invalid_grant"
    assert comparable(unknown_user) == comparable(wrong_password) == comparable(inactive_user)


async def test_a_wrong_basic_password_and_an_unknown_basic_user_get_the_same_answer(
    client, services
):
    await make_user(services, "alice")
    unknown_user = await client.get("/users/me", headers=basic("nobody", WRONG))
    wrong_password = await client.get("/users/me", headers=basic("alice", WRONG))
    assert unknown_user.status_code == 401
    assert comparable(unknown_user) == comparable(wrong_password)


async def timed_post(client, form) -> float:
    started = time.perf_counter()
    response = await client.post("/token", data=form)
    elapsed = time.perf_counter() - started
    assert response.status_code == 400, response.text
    return elapsed


async def test_an_unknown_user_costs_about_as_long_as_a_wrong_password(start_app):
    # A noticeable bcrypt cost, and throttling out of the way: this compares bcrypt work only.
    costly = await start_app(bcrypt_rounds=8, login_max_failures=10_000)
    await make_user(costly.services, "alice")
    unknown, wrong = [], []
    async with costly.client() as client:
        await timed_post(client, password_form("warm-up", WRONG))
        for n in range(TRIES):
            # Interleaved, so a slow patch of the machine hits both alike.
            unknown.append(await timed_post(client, password_form(f"nobody{n}", WRONG)))
            wrong.append(await timed_post(client, password_form("alice", WRONG)))
    unknown_median, wrong_median = statistics.median(unknown), statistics.median(wrong)
    # Loose on purpose: the point is that bcrypt runs for an unknown name at all (without it
    # an unknown name answers many times faster), not a precise timing.
    assert unknown_median >= 0.5 * wrong_median, (unknown_median, wrong_median)
