"""An unknown user, a wrong password and an inactive user are told apart by nothing: status,
body, headers, and (within noise) time, because an unknown user still pays bcrypt
(docs/contract.md)."""

import asyncio
import statistics
import time

from app.authcache.records import NoSuchUser
from tests.factories import DEFAULT_PASSWORD, basic, make_user
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


def login_lookups(services) -> tuple[float, float]:
    """How often the login-name lookup was answered from the cache, and from PostgreSQL."""
    registry = services.metrics.registry
    labels = {"kind": "login"}
    hits = registry.get_sample_value("keygate_auth_cache_hits_total", labels) or 0.0
    misses = registry.get_sample_value("keygate_auth_cache_misses_total", labels) or 0.0
    return hits, misses


async def lookups_of(client, services, username: str, attempts: int) -> tuple[float, float]:
    before = login_lookups(services)
    for _ in range(attempts):
        response = await client.post("/token", data=password_form(username, WRONG))
        assert response.status_code in (400, 429), response.text
    after = login_lookups(services)
    return after[0] - before[0], after[1] - before[1]


async def test_the_cache_metrics_move_alike_for_a_known_and_an_unknown_name(start_app):
    app = await start_app(login_max_failures=10_000)
    await make_user(app.services, "alice")
    async with app.client() as client:
        # Each name looked up once, as an attacker's first probe would: then probed again.
        first_known = await lookups_of(client, app.services, "alice", 1)
        first_unknown = await lookups_of(client, app.services, "nobody", 1)
        known = await lookups_of(client, app.services, "alice", 3)
        unknown = await lookups_of(client, app.services, "nobody", 3)
    assert known == unknown == (3, 0)
    assert first_unknown[0] + first_unknown[1] == first_known[0] + first_known[1] == 1


async def test_a_throttled_name_answers_alike_known_or_unknown(start_app):
    app = await start_app(login_max_failures=2)
    await make_user(app.services, "alice")
    async with app.client() as client:
        for name in ("alice", "nobody"):
            for _ in range(3):
                await client.post("/token", data=password_form(name, WRONG))
        known = await lookups_of(client, app.services, "alice", 2)
        unknown = await lookups_of(client, app.services, "nobody", 2)
        refused = [
            await client.post("/token", data=password_form(n, WRONG)) for n in ("alice", "nobody")
        ]
    assert known == unknown
    assert [r.status_code for r in refused] == [429, 429]
    assert comparable(refused[0])[1:] == comparable(refused[1])[1:]


CONCURRENT_ATTEMPTS = 4


async def test_concurrent_identical_basic_attempts_cost_alike_for_known_and_unknown_names(
    start_app, monkeypatch
):
    app = await start_app(login_max_failures=10_000)
    await make_user(app.services, "alice")
    hasher = app.services.hasher
    verify = hasher.verify
    running = 0
    checks: dict[str, list[int]] = {}  # per name: how many checks ran at once, at each start

    async def counting_verify(password, password_hash, **lane):
        nonlocal running
        running += 1
        checks.setdefault(current_name, []).append(running)
        try:
            return await verify(password, password_hash, **lane)
        finally:
            running -= 1

    monkeypatch.setattr(hasher, "verify", counting_verify)
    async with app.client() as client:
        for current_name in ("alice", "nobody"):
            burst = [basic(current_name, WRONG)] * CONCURRENT_ATTEMPTS
            responses = await asyncio.gather(*(client.get("/users/me", headers=h) for h in burst))
            assert [r.status_code for r in responses] == [401] * CONCURRENT_ATTEMPTS
    # Each wrong attempt is checked, one at a time, for an unknown name as for a known one.
    assert checks["alice"] == checks["nobody"] == [1] * CONCURRENT_ATTEMPTS


async def test_a_name_registered_after_a_failed_login_logs_in_at_once(client, services):
    assert (await client.post("/token", data=password_form("carol", WRONG))).status_code == 400
    assert (await client.get("/users/me", headers=basic("Carol", WRONG))).status_code == 401

    await make_user(services, "carol")

    assert (await client.post("/token", data=password_form("Carol"))).status_code == 200
    me = await client.get("/users/me", headers=basic("carol", DEFAULT_PASSWORD))
    assert me.status_code == 200
    assert me.json()["username"] == "carol"


async def test_a_failed_login_that_races_a_registration_never_hides_the_new_user(client, services):
    # The failed login looked "dave" up before the registration committed, and its entry for
    # a name with no user lands only after the registration cleared the name's entry.
    user = await make_user(services, "dave")
    await services.directory._fill_no_such_user("dave", NoSuchUser("dave"))

    assert (await client.post("/token", data=password_form("dave"))).status_code == 200
    assert (await services.directory.login_record("dave")).user == user
