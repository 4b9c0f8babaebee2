"""Without SMTP_URL: in development each message goes to the log with its link, so the quick
start needs no mail server; in production nothing is accepted that cannot be sent. Apart from
that development log, no log line holds a token or a password (docs/contract.md, Account
recovery)."""

import logging

import httpx
import pytest

from tests.clock import MovableClock
from tests.conftest import RunningApp, make_settings, running_app
from tests.factories import DEFAULT_PASSWORD, login, make_user

from .conftest import MailServer, eventually, token_in

NEW_PASSWORD = "a brand new tulip meadow"


async def test_in_development_the_message_is_one_log_record_with_its_link(
    client: httpx.AsyncClient, services, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="app.mail")
    await make_user(services, email="alice@example.org")

    response = await client.post("/users/password-reset", json={"username": "alice"})

    assert response.status_code == 202

    async def logged() -> bool:
        return any("alice@example.org" in r.getMessage() for r in caplog.records)

    await eventually(logged, "the message in the log")
    (record,) = [r for r in caplog.records if "alice@example.org" in r.getMessage()]
    line = record.getMessage()
    assert "Reset the password of alice" in line
    token = line.split("/account/reset#token=", 1)[1].split()[0]
    confirmed = await client.post(
        "/users/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert confirmed.status_code == 204


async def test_in_production_without_a_mail_server_nothing_is_accepted(
    database, clock: MovableClock
):
    settings = make_settings(app_env="production")
    async with running_app(settings, clock) as app, app.client() as client:
        user = await make_user(app.services, email="alice@example.org")
        await database.execute("UPDATE users SET email_verified = true WHERE id = $1", user.id)
        tokens = await login(client)

        reset = await client.post("/users/password-reset", json={"username": "alice"})
        verify = await client.post("/users/me/email-verification", headers=tokens.headers)
        change = await client.patch(
            "/users/me",
            json={"email": "new@example.org", "current_password": DEFAULT_PASSWORD},
            headers=tokens.headers,
        )

        for response in (reset, verify, change):
            assert response.status_code == 503, response.text
            assert "mail" in response.json()["detail"]
        assert await database.fetchval("SELECT count(*) FROM mail_outbox") == 0
        me = await client.get("/users/me", headers=tokens.headers)
        assert me.json()["email"] == "alice@example.org"
        # An operator's link still works: confirming needs no mail server.
        link = await app.services.recovery.reset_link(user.id)
        assert link is not None
        confirmed = await client.post(
            "/users/password-reset/confirm",
            json={"token": link.split("#token=")[1], "new_password": NEW_PASSWORD},
        )
        assert confirmed.status_code == 204


async def test_no_log_record_holds_a_token_or_a_password(
    mail_client: httpx.AsyncClient,
    mail_app: RunningApp,
    mail_server: MailServer,
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
):
    # Every logger of the mail path (the access log records method, path and status only).
    for logger in ("app.mail", "app.recovery", "app.accounts", "app.lifespan", "aiosmtplib"):
        caplog.set_level(logging.DEBUG, logger=logger)
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    mail_server.mailbox.refusal = "451 4.3.0 try later"
    await mail_client.post("/users/password-reset", json={"username": "alice"})
    await mail_client.post("/users/me/email-verification", headers=tokens.headers)

    async def refused() -> bool:
        return any("451" in r.getMessage() for r in caplog.records)

    await eventually(refused, "a refusal logged")
    mail_server.mailbox.refusal = None
    clock.advance(60)
    messages = [await mail_server.next_message(), await mail_server.next_message()]
    by_subject = {m["Subject"].split()[0]: m for m in messages}
    reset_token = token_in(by_subject["Reset"], "/account/reset")
    verify_token = token_in(by_subject["Verify"], "/account/verify")
    await mail_client.post(
        "/users/password-reset/confirm", json={"token": reset_token, "new_password": NEW_PASSWORD}
    )
    await mail_client.post("/users/email-verification/confirm", json={"token": verify_token})

    logged = "\n".join(
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if not r.name.startswith("mail.")
    )
    assert "mail" in logged
    for secret in (reset_token, verify_token, NEW_PASSWORD, DEFAULT_PASSWORD):
        assert secret not in logged
