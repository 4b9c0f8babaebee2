"""An operator prints a reset link with `keygate users reset-link USERNAME` and hands it over
by other means: no mail server is needed (docs/contract.md, Account recovery)."""

import httpx

from tests.cli import keygate
from tests.factories import login, make_user

NEW_PASSWORD = "handed over by phone 9"


async def test_the_printed_link_sets_a_new_password(client: httpx.AsyncClient, services, tmp_path):
    await make_user(services, email=None)

    done = await keygate(
        "users",
        "reset-link",
        "alice",
        cwd=tmp_path,
        APP_ENV="production",
        JWT_SECRET="operator-" + "s" * 40,
        PUBLIC_URL="https://login.example/",
    )

    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("https://login.example/account/reset#token=")
    confirmed = await client.post(
        "/users/password-reset/confirm",
        json={"token": line.split("#token=")[1], "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204
    await login(client, password=NEW_PASSWORD)


async def test_a_newer_printed_link_makes_the_older_one_dead(
    client: httpx.AsyncClient, services, tmp_path
):
    await make_user(services)
    first = await keygate("users", "reset-link", "alice", cwd=tmp_path)
    second = await keygate("users", "reset-link", "alice", cwd=tmp_path)

    tokens = [run.stdout.strip().split("#token=")[1] for run in (first, second)]
    older = await client.post(
        "/users/password-reset/confirm", json={"token": tokens[0], "new_password": NEW_PASSWORD}
    )
    newer = await client.post(
        "/users/password-reset/confirm", json={"token": tokens[1], "new_password": NEW_PASSWORD}
    )
    assert (older.status_code, newer.status_code) == (400, 204)


async def test_an_unknown_or_disabled_user_gets_one_line_and_no_link(services, tmp_path):
    bob = await make_user(services, "bob")
    await services.accounts.set_flags(bob.id, is_active=False, is_admin=None)

    unknown = await keygate("users", "reset-link", "nobody", cwd=tmp_path)
    disabled = await keygate("users", "reset-link", "bob", cwd=tmp_path)

    assert unknown.returncode == 3
    assert unknown.error_lines == ["keygate: no such user: 'nobody'"]
    assert disabled.returncode == 1
    assert disabled.error_lines == ["keygate: bob is disabled: enable the account first"]
    assert unknown.stdout == disabled.stdout == ""
