"""keygate watches the Redis master's identity with INFO; a Redis user that may not run INFO
(a locked-down ACL) still gets the cache: Redis answered, so it is reachable."""

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.clock import MovableClock
from tests.conftest import make_settings, running_app
from tests.core.ha.observing import (
    Observation,
    auth_source,
    observe_until_healthy,
    record,
    unique_name,
)
from tests.factories import login, make_user
from tests.faults import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(30)]


async def test_requests_are_served_from_the_cache_for_a_user_without_info(
    database: asyncpg.Pool, clock: MovableClock
) -> None:
    server = RedisServer()
    await server.start()
    try:
        async with Redis(port=server.port) as admin:
            await admin.execute_command(
                "ACL", "SETUSER", "keygate", "on", ">pw", "~*", "+@all", "-info"
            )
        url = f"redis://keygate:pw@127.0.0.1:{server.port}/0"
        name = unique_name("no-info-")
        async with running_app(make_settings(redis_url=url), clock) as app, app.client() as c:
            await make_user(app.services, name)
            tokens = await login(c, name)
            server.pause()  # a call fails: the breaker opens, and its probe asks INFO later
            during = await c.get("/users/me", headers=tokens.headers)
            assert (during.status_code, auth_source(during)) == (200, "db")
            server.resume()

            async def served_from_the_cache(seen: Observation) -> bool:
                response = record(seen, await c.get("/users/me", headers=tokens.headers))
                return auth_source(response) == "cache"

            await observe_until_healthy(
                served_from_the_cache, what="Redis trusted again", timeout_seconds=10
            )
    finally:
        await server.kill()
