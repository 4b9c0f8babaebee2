"""A user who forgot their password asks for a link by username or email, follows it from the
message and sets a new password (docs/contract.md, Account recovery)."""

import json

import httpx

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, basic, login, make_user

from .conftest import PUBLIC_URL, MailServer, Outbox, link_in, token_in

NEW_PASSWORD = "a brand new tulip meadow"
ACCEPTED = {
    "detail": "if an active account with an email address matches, a reset link is on its way"
}


async def ask_for_reset(client: httpx.AsyncClient, **lookup: str) -> None:
    response = await client.post("/users/password-reset", json=lookup)
    assert response.status_code == 202, response.text
    assert response.json() == ACCEPTED


async def confirm(client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD) -> int:
    response = await client.post(
        "/users/password-reset/confirm", json={"token": token, "new_password": password}
    )
    return response.status_code


async def test_a_reset_link_by_username_sets_a_new_password(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")

    await ask_for_reset(mail_client, username="ALICE")
    message = await mail_server.next_message()

    assert message["To"] == "alice@example.org"
    assert message["From"] == "keygate <no-reply@keygate.example>"
    assert "alice" in message["Subject"]
    assert link_in(message, "/account/reset").startswith(PUBLIC_URL + "/account/reset#token=")
    assert await confirm(mail_client, token_in(message, "/account/reset")) == 204
    await login(mail_client, password=NEW_PASSWORD)
    refused = await mail_client.post(
        "/token",
        data={"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD},
    )
    assert refused.json()["error"] == "invalid_grant"


async def test_a_reset_by_email_reaches_every_active_account_with_that_address(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer, outbox: Outbox
):
    services = mail_app.services
    await make_user(services, "alice", email="family@example.org")
    await make_user(services, "bob", email="Family@Example.org")
    carol = await make_user(services, "carol", email="family@example.org")
    await services.accounts.set_flags(carol.id, is_active=False, is_admin=None)

    await ask_for_reset(mail_client, email="family@example.org")
    first, second = await mail_server.next_message(), await mail_server.next_message()
    await outbox.settled()

    named = sorted(m["Subject"].rsplit(" ", 1)[1] for m in (first, second))
    assert named == ["alice", "bob"]
    assert mail_server.nothing_more_arrived()
    for message in (first, second):
        username = message["Subject"].rsplit(" ", 1)[1]
        assert f"'{username}'" in message.get_body(("plain",)).get_content()


async def test_every_request_is_answered_alike_and_only_real_accounts_get_mail(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer, outbox: Outbox
):
    services = mail_app.services
    await make_user(services, "noaddress")
    gone = await make_user(services, "gone", email="gone@example.org")
    await services.accounts.set_flags(gone.id, is_active=False, is_admin=None)

    for lookup in (
        {"username": "nobody"},
        {"email": "nobody@example.org"},
        {"username": "noaddress"},
        {"username": "gone"},
        {"email": "gone@example.org"},
    ):
        await ask_for_reset(mail_client, **lookup)
    await outbox.settled()

    assert mail_server.mailbox.received == []
    assert set(await outbox.statuses()) == {"done"}


async def test_a_reset_link_works_once(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    await ask_for_reset(mail_client, username="alice")
    token = token_in(await mail_server.next_message(), "/account/reset")

    assert await confirm(mail_client, token) == 204
    response = await mail_client.post(
        "/users/password-reset/confirm", json={"token": token, "new_password": "another one 42!"}
    )

    assert response.status_code == 400
    assert "detail" in response.json()
    await login(mail_client, password=NEW_PASSWORD)


async def test_an_expired_reset_link_is_refused(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer, clock
):
    await make_user(mail_app.services, email="alice@example.org")
    await ask_for_reset(mail_client, username="alice")
    token = token_in(await mail_server.next_message(), "/account/reset")

    clock.advance(mail_app.services.settings.password_reset_ttl_seconds + 1)

    assert await confirm(mail_client, token) == 400
    await login(mail_client)


async def test_a_newer_link_makes_the_older_one_dead(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    await ask_for_reset(mail_client, username="alice")
    older = token_in(await mail_server.next_message(), "/account/reset")
    await ask_for_reset(mail_client, email="alice@example.org")
    newer = token_in(await mail_server.next_message(), "/account/reset")

    assert await confirm(mail_client, older) == 400
    assert await confirm(mail_client, newer) == 204


async def test_a_password_change_makes_older_links_dead(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    await ask_for_reset(mail_client, username="alice")
    token = token_in(await mail_server.next_message(), "/account/reset")
    tokens = await login(mail_client)
    changed = await mail_client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "changed it myself 7"},
        headers=tokens.headers,
    )
    assert changed.status_code == 204

    assert await confirm(mail_client, token) == 400
    await login(mail_client, password="changed it myself 7")


async def test_a_refused_new_password_is_422_and_keeps_the_link_usable(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    await ask_for_reset(mail_client, username="alice")
    token = token_in(await mail_server.next_message(), "/account/reset")

    for weak in ("short", "password123", "alice-in-wonderland", "x" * 73):
        response = await mail_client.post(
            "/users/password-reset/confirm", json={"token": token, "new_password": weak}
        )
        assert response.status_code == 422, (weak, response.text)

    assert await confirm(mail_client, token) == 204


async def test_unknown_and_malformed_tokens_are_refused_without_a_500(
    mail_client: httpx.AsyncClient,
):
    for body in (
        {"token": "not-a-token", "new_password": NEW_PASSWORD},
        {"token": "A" * 1000, "new_password": NEW_PASSWORD},
    ):
        response = await mail_client.post("/users/password-reset/confirm", json=body)
        assert response.status_code == 400, response.text
    for body in (
        {"token": "x"},
        {"new_password": NEW_PASSWORD},
        {"token": 5, "new_password": 1},
        {"token": "\ud800", "new_password": NEW_PASSWORD},
        {"token": "A" * 1025, "new_password": NEW_PASSWORD},
    ):
        response = await mail_client.post(
            "/users/password-reset/confirm",
            content=json.dumps(body),  # ASCII escapes carry the lone surrogate
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
    for lookup in ({}, {"username": "a", "email": "a@example.org"}, {"username": ""}):
        response = await mail_client.post("/users/password-reset", json=lookup)
        assert response.status_code == 422, response.text


async def test_a_reset_ends_every_session_and_the_old_password_at_once_everywhere(
    mail_client: httpx.AsyncClient,
    mail_app: RunningApp,
    mail_server: MailServer,
    second_mail_app: RunningApp,
):
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    old_basic = basic("alice", DEFAULT_PASSWORD)
    async with second_mail_app.client() as other:
        for client in (mail_client, other):  # both workers hold the old password in cache
            for headers in (tokens.headers, old_basic):
                warm = await client.get("/users/me", headers=headers)
                assert warm.status_code == 200, warm.text
        await ask_for_reset(mail_client, username="alice")
        token = token_in(await mail_server.next_message(), "/account/reset")

        assert await confirm(mail_client, token) == 204

        for client in (mail_client, other):
            for headers in (tokens.headers, old_basic):
                assert (await client.get("/users/me", headers=headers)).status_code == 401
            refreshed = await client.post(
                "/token",
                data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
            )
            assert refreshed.json()["error"] == "invalid_grant"
        new_basic = basic("alice", NEW_PASSWORD)
        assert (await other.get("/users/me", headers=new_basic)).status_code == 200


async def test_a_reset_clears_the_login_lockout(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    form = {"grant_type": "password", "username": "alice", "password": "wrong guess 123"}
    for _ in range(mail_app.services.settings.login_max_failures):
        await mail_client.post("/token", data=form)
    locked = await mail_client.post("/token", data=form)
    assert locked.status_code == 429

    await ask_for_reset(mail_client, username="alice")
    assert (
        await confirm(mail_client, token_in(await mail_server.next_message(), "/account/reset"))
        == 204
    )

    await login(mail_client, password=NEW_PASSWORD)


async def test_a_name_is_found_in_any_spelling_that_logs_in(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")

    await ask_for_reset(mail_client, username="\uff21\uff2c\uff29\uff23\uff25")  # full-width ALICE

    assert (await mail_server.next_message())["To"] == "alice@example.org"
