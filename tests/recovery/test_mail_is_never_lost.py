"""A 202 is a promise: the message is in PostgreSQL before the answer, and it reaches the mail
server through its outages, its temporary refusals and keygate's restarts, once, whatever
the number of workers (docs/contract.md, Account recovery)."""

import asyncio

import httpx

from tests.clock import MovableClock
from tests.conftest import RunningApp
from tests.factories import make_user

from .conftest import MailServer, Outbox, eventually, mail_app_running, token_in

RETRY_CAP_SECONDS = 60


async def ask_for_reset(client: httpx.AsyncClient, username: str = "alice") -> None:
    response = await client.post("/users/password-reset", json={"username": username})
    assert response.status_code == 202, response.text


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_a_message_accepted_while_the_mail_server_is_down_arrives_when_it_is_back(
    mail_client: httpx.AsyncClient,
    mail_app: RunningApp,
    mail_server: MailServer,
    outbox: Outbox,
    clock: MovableClock,
):
    await make_user(mail_app.services, email="alice@example.org")
    await mail_server.stop()

    await ask_for_reset(mail_client)

    async def tried_and_failed() -> bool:
        return any(await outbox.last_errors())

    await eventually(tried_and_failed, "a failed delivery attempt recorded")
    assert await outbox.statuses() == ["done", "waiting"]

    async def counted_as_waiting() -> bool:  # the gauge follows the sender's next look
        return await metric(mail_client, "keygate_mail_waiting") == 1

    await eventually(counted_as_waiting, "keygate_mail_waiting at 1")
    await mail_server.start()
    clock.advance(RETRY_CAP_SECONDS)  # the retry, at most a minute later

    message = await mail_server.next_message()

    assert message["To"] == "alice@example.org"
    await outbox.settled()
    assert await outbox.statuses() == ["done", "sent"]
    response = await mail_client.post(
        "/users/password-reset/confirm",
        json={"token": token_in(message, "/account/reset"), "new_password": "back online 2024"},
    )
    assert response.status_code == 204


async def test_a_message_accepted_by_a_process_that_stopped_is_still_delivered(
    mail_server: MailServer, outbox: Outbox, clock: MovableClock, smtp_port: int
):
    await mail_server.stop()
    async with mail_app_running(clock, smtp_port) as first, first.client() as client:
        await make_user(first.services, email="alice@example.org")
        await ask_for_reset(client)

        async def tried() -> bool:
            return any(await outbox.last_errors())

        await eventually(tried, "a failed delivery attempt recorded")
    await mail_server.start()
    clock.advance(RETRY_CAP_SECONDS)

    async with mail_app_running(clock, smtp_port):
        message = await mail_server.next_message()

    assert message["To"] == "alice@example.org"


async def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_recorded(
    mail_client: httpx.AsyncClient,
    mail_app: RunningApp,
    mail_server: MailServer,
    outbox: Outbox,
    clock: MovableClock,
):
    await make_user(mail_app.services, email="alice@example.org")
    await make_user(mail_app.services, "bob", email="bob@example.org")
    failed_before = await metric(mail_client, "keygate_mail_failed_total")
    mail_server.mailbox.refusal = "451 4.3.0 mailbox busy, try later"
    await ask_for_reset(mail_client)

    async def refused_once() -> bool:
        return "451" in str(await outbox.last_errors())

    await eventually(refused_once, "the 451 recorded")
    mail_server.mailbox.refusal = None
    clock.advance(RETRY_CAP_SECONDS)
    assert (await mail_server.next_message())["To"] == "alice@example.org"

    mail_server.mailbox.refusal = "550 5.1.1 no such mailbox"
    await ask_for_reset(mail_client, "bob")
    await outbox.settled()
    mail_server.mailbox.refusal = None
    clock.advance(RETRY_CAP_SECONDS)

    assert (await outbox.statuses()).count("failed") == 1
    assert "550" in str(await outbox.last_errors())
    assert await metric(mail_client, "keygate_mail_failed_total") == failed_before + 1
    await ask_for_reset(mail_client)  # the sender is still at work: alice's next one arrives
    assert (await mail_server.next_message())["To"] == "alice@example.org"
    assert len(mail_server.mailbox.received) == 2


async def test_a_request_does_not_wait_for_a_slow_mail_server(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    await make_user(mail_app.services, "bob", email="bob@example.org")
    mail_server.mailbox.answering.clear()
    await ask_for_reset(mail_client)
    await asyncio.to_thread(mail_server.mailbox.waiting_to_answer.wait, 15)

    # The server holds alice's message unanswered; more requests are answered meanwhile.
    await asyncio.wait_for(ask_for_reset(mail_client, "bob"), 5)
    await asyncio.wait_for(ask_for_reset(mail_client, "nobody"), 5)
    tokens = await mail_client.post(
        "/token", data={"grant_type": "password", "username": "bob", "password": "x" * 8}
    )
    assert tokens.status_code == 400

    mail_server.mailbox.answering.set()
    received = {(await mail_server.next_message())["To"] for _ in range(2)}
    assert received == {"alice@example.org", "bob@example.org"}


async def test_with_several_workers_each_message_is_sent_once(
    mail_app: RunningApp,
    second_mail_app: RunningApp,
    mail_server: MailServer,
    outbox: Outbox,
):
    users = [f"user{n}" for n in range(12)]
    for name in users:
        await make_user(mail_app.services, name, email=f"{name}@example.org")
    workers = [mail_app, second_mail_app]

    async def ask(n: int, name: str) -> None:
        async with workers[n % 2].client(ip=f"198.51.100.{n + 1}") as client:
            await ask_for_reset(client, name)

    await asyncio.gather(*(ask(n, name) for n, name in enumerate(users)))
    await outbox.settled()

    recipients = sorted(m["To"] for m in mail_server.mailbox.received)
    assert recipients == sorted(f"{name}@example.org" for name in users)
