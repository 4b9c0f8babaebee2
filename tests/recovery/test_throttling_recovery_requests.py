"""Recovery cannot be turned into a mail cannon: per client address a 429, per account
silence that tells nothing (docs/contract.md, Account recovery)."""

import httpx

from tests.conftest import RunningApp
from tests.factories import login, make_user

from .conftest import MailServer, Outbox


async def test_one_address_past_its_limit_gets_429_with_retry_after(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, outbox: Outbox
):
    limit = mail_app.services.settings.recovery_max_per_address
    for n in range(limit):
        response = await mail_client.post("/users/password-reset", json={"username": f"u{n}"})
        assert response.status_code == 202

    refused = await mail_client.post("/users/password-reset", json={"username": "one-more"})
    async with mail_app.client(ip="198.51.100.9") as elsewhere:
        other = await elsewhere.post("/users/password-reset", json={"username": "one-more"})

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "detail" in refused.json()
    assert other.status_code == 202
    assert len(await outbox.statuses()) == limit + 1


async def test_verification_requests_count_in_the_same_address_window(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    limit = mail_app.services.settings.recovery_max_per_address
    for n in range(limit - 1):
        await mail_client.post("/users/password-reset", json={"username": f"u{n}"})
    assert (
        await mail_client.post("/users/me/email-verification", headers=tokens.headers)
    ).status_code == 202

    refused = await mail_client.post("/users/me/email-verification", headers=tokens.headers)

    assert refused.status_code == 429


async def test_past_the_account_limit_requests_are_202_and_nothing_more_is_sent(
    mail_app: RunningApp, mail_server: MailServer, outbox: Outbox
):
    await make_user(mail_app.services, email="alice@example.org")
    limit = mail_app.services.settings.recovery_max_per_account
    for n in range(limit + 2):
        # From several addresses, as a distributed attacker would send them.
        async with mail_app.client(ip=f"198.51.100.{n + 1}") as client:
            response = await client.post("/users/password-reset", json={"username": "alice"})
            assert response.status_code == 202
    await outbox.settled()

    assert len(mail_server.mailbox.received) == limit
