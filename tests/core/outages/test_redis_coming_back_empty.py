"""Redis killed under load and started again, empty, on the same address: both workers of
`keygate serve --workers 2` answer from it again within 1 s of it answering PING
(docs/contract.md §6), although every pooled connection died with it."""

import asyncio
import time
from contextlib import AsyncExitStack
from typing import Final

import httpx

from tests.core.outages.conftest import logged_in_clients
from tests.faults import RedisServer
from tests.fixtures.fault_lab import auth_source
from tests.fixtures.keys_and_servers import ServedKeygate

CLIENTS: Final = 12
# The contract's 1 s, and a little for a machine the suite keeps busy.
TRUSTED_AGAIN_WITHIN_SECONDS: Final = 1.5


async def _read_until(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    stop: asyncio.Event,
    seen: list[tuple[float, str | None]],
) -> None:
    while not stop.is_set():
        response = await client.get("/users/me", headers=headers)
        assert response.status_code == 200, response.text
        seen.append((time.monotonic(), auth_source(response)))


async def test_an_empty_redis_on_the_same_address_is_used_again_within_a_second(
    redis_server: RedisServer, served: ServedKeygate
) -> None:
    stop, seen = asyncio.Event(), list[tuple[float, str | None]]()
    async with AsyncExitStack() as stack:
        tasks = []
        for client, body in await logged_in_clients(stack, served, CLIENTS):
            headers = {"Authorization": f"Bearer {body['access_token']}"}
            tasks.append(asyncio.create_task(_read_until(client, headers, stop, seen)))
        try:
            await asyncio.sleep(0.5)  # every worker's pool holds connections in use
            await redis_server.kill()
            await asyncio.sleep(1.5)
            assert seen[-1][1] == "db"
            await redis_server.start()  # returns once it answers PING
            answered = time.monotonic()
            await asyncio.sleep(TRUSTED_AGAIN_WITHIN_SECONDS + 1.0)
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    after = [(at - answered, source) for at, source in seen if at > answered]
    from_database = [at for at, source in after if source != "cache"]
    assert any(source == "cache" for _, source in after)
    assert max(from_database, default=0.0) <= TRUSTED_AGAIN_WITHIN_SECONDS, from_database[-5:]
