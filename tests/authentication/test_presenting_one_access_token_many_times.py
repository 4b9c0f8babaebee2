"""A client presents one access token on every request for its lifetime. Each worker checks
its signature once and remembers the claims; everything that can change is still checked on
every request: its expiry against the clock, the session, the user and the user's scopes."""

import httpx
import pytest

from app.tokens import codec as codec_module
from app.tokens.codec import KeySet
from app.tokens.memo import VerifiedTokenMemo
from tests.clock import MovableClock
from tests.conftest import make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, login, make_user

TTL_SECONDS = 900  # ACCESS_TOKEN_TTL_SECONDS's default
NEW_PASSWORD = "a new and longer passphrase"


async def me_status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/users/me", headers=headers)).status_code


async def test_a_token_signature_is_checked_once_per_worker(
    client, services, second_app, monkeypatch
):
    await make_user(services)
    tokens = await login(client)
    checked: list[str] = []
    verify = codec_module.jws.verify

    def counting_verify(token: str, *args: object, **kwargs: object) -> bytes:
        checked.append(token)
        return verify(token, *args, **kwargs)

    monkeypatch.setattr(codec_module.jws, "verify", counting_verify)
    async with second_app.client() as other:
        for _ in range(5):
            assert await me_status(client, tokens.headers) == 200
            assert await me_status(other, tokens.headers) == 200

    assert checked == [tokens.access_token, tokens.access_token]  # one for each worker


async def test_a_remembered_token_is_refused_once_it_expires(client, services, clock):
    await make_user(services)
    tokens = await login(client)
    assert await me_status(client, tokens.headers) == 200

    clock.advance(TTL_SECONDS - 1)
    assert await me_status(client, tokens.headers) == 200
    clock.advance(2)
    assert await me_status(client, tokens.headers) == 401


async def test_with_a_leeway_a_remembered_token_counts_until_the_leeway_has_passed(
    database, clock: MovableClock
):
    async with running_app(make_settings(jwt_leeway_seconds=30), clock) as app:
        await make_user(app.services)
        async with app.client() as client:
            tokens = await login(client)
            assert await me_status(client, tokens.headers) == 200

            clock.advance(TTL_SECONDS + 20)
            assert await me_status(client, tokens.headers) == 200
            clock.advance(11)
            assert await me_status(client, tokens.headers) == 401


async def test_a_remembered_token_is_refused_after_a_logout_on_another_worker(
    client, services, second_app
):
    await make_user(services)
    tokens = await login(client)
    async with second_app.client() as other:
        assert await me_status(other, tokens.headers) == 200

        assert (await client.post("/logout", headers=tokens.headers)).status_code == 204

        assert await me_status(other, tokens.headers) == 401


async def test_a_remembered_token_is_refused_after_a_password_change_on_another_worker(
    client, services, second_app
):
    await make_user(services)
    tokens = await login(client)
    changer = await login(client)  # the session that changes it keeps working; others end
    async with second_app.client() as other:
        assert await me_status(other, tokens.headers) == 200

        changed = await client.post(
            "/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
            headers=changer.headers,
        )
        assert changed.status_code == 204, changed.text

        assert await me_status(other, tokens.headers) == 401


async def test_a_remembered_admin_token_loses_admin_at_once_on_another_worker(
    client, services, second_app
):
    admin = await make_user(services, "root", is_admin=True)
    await make_user(services, "boss", is_admin=True)
    tokens = await login(client, "root")
    boss = await login(client, "boss")
    async with second_app.client() as other:
        assert (await other.get("/users", headers=tokens.headers)).status_code == 200

        demoted = await client.patch(
            f"/users/{admin.id}", json={"is_admin": False}, headers=boss.headers
        )
        assert demoted.status_code == 200, demoted.text

        assert (await other.get("/users", headers=tokens.headers)).status_code == 403
        assert await me_status(other, tokens.headers) == 200


async def test_a_tampered_copy_of_a_remembered_token_is_refused(client, services):
    await make_user(services)
    tokens = await login(client)
    assert await me_status(client, tokens.headers) == 200

    header, payload, signature = tokens.access_token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    tampered = f"{header}.{payload}.{flipped}{signature[1:]}"
    assert await me_status(client, {"Authorization": f"Bearer {tampered}"}) == 401
    assert await me_status(client, tokens.headers) == 200


async def test_new_keys_forget_every_token_the_old_ones_verified(services, second_app):
    await make_user(services)
    async with second_app.client() as other:
        tokens = await login(other)
        assert await me_status(other, tokens.headers) == 200

        second_app.services.codec.keys = KeySet.shared_secret("another-secret-" + "y" * 40)

        assert await me_status(other, tokens.headers) == 401


@pytest.mark.parametrize("extra", [1, 5])
def test_the_memo_keeps_at_most_its_bound_dropping_the_oldest_first(extra):
    memo: VerifiedTokenMemo[int] = VerifiedTokenMemo(max_entries=3)
    tokens = [f"token-{n}" for n in range(3 + extra)]
    for n, token in enumerate(tokens):
        memo.remember(token, n)

    assert len(memo) == 3
    assert [memo.get(t) for t in tokens] == [None] * extra + [extra, extra + 1, extra + 2]
