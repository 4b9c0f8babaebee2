"""A user proves their address by following a link mailed to it; changing the address needs
the current password, starts unverified and tells the old address (docs/contract.md,
Account recovery)."""

import httpx

from tests.conftest import RunningApp
from tests.factories import DEFAULT_PASSWORD, Login, login, make_user

from .conftest import MailServer, token_in


async def ask_for_verification(client: httpx.AsyncClient, tokens: Login) -> httpx.Response:
    return await client.post("/users/me/email-verification", headers=tokens.headers)


async def confirm(client: httpx.AsyncClient, token: str) -> int:
    response = await client.post("/users/email-verification/confirm", json={"token": token})
    return response.status_code


async def me(client: httpx.AsyncClient, tokens: Login) -> dict[str, object]:
    response = await client.get("/users/me", headers=tokens.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def verified_alice(
    client: httpx.AsyncClient, app: RunningApp, mail_server: MailServer
) -> Login:
    await make_user(app.services, email="alice@example.org")
    tokens = await login(client)
    assert (await ask_for_verification(client, tokens)).status_code == 202
    assert (
        await confirm(client, token_in(await mail_server.next_message(), "/account/verify")) == 204
    )
    return tokens


async def test_following_the_link_verifies_the_address(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    assert (await me(mail_client, tokens))["email_verified"] is False

    requested = await ask_for_verification(mail_client, tokens)
    message = await mail_server.next_message()

    assert requested.status_code == 202
    assert message["To"] == "alice@example.org"
    assert await confirm(mail_client, token_in(message, "/account/verify")) == 204
    assert (await me(mail_client, tokens))["email_verified"] is True
    again = await ask_for_verification(mail_client, tokens)
    assert again.status_code == 409
    assert await confirm(mail_client, token_in(message, "/account/verify")) == 400


async def test_an_account_without_an_address_cannot_ask_for_verification(
    mail_client: httpx.AsyncClient, mail_app: RunningApp
):
    await make_user(mail_app.services)
    tokens = await login(mail_client)

    response = await ask_for_verification(mail_client, tokens)

    assert response.status_code == 409
    assert "detail" in response.json()


async def test_a_link_for_an_address_changed_since_is_refused(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    await ask_for_verification(mail_client, tokens)
    token = token_in(await mail_server.next_message(), "/account/verify")
    changed = await mail_client.patch(
        "/users/me",
        json={"email": "alice@example.net", "current_password": DEFAULT_PASSWORD},
        headers=tokens.headers,
    )
    assert changed.status_code == 200

    assert await confirm(mail_client, token) == 400
    assert (await me(mail_client, tokens))["email_verified"] is False


async def test_an_expired_verification_link_is_refused(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer, clock
):
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    await ask_for_verification(mail_client, tokens)
    token = token_in(await mail_server.next_message(), "/account/verify")

    clock.advance(mail_app.services.settings.email_verification_ttl_seconds + 1)

    assert await confirm(mail_client, token) == 400


async def test_changing_the_address_needs_the_current_password(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    tokens = await verified_alice(mail_client, mail_app, mail_server)
    for body in (
        {"email": "thief@example.org"},
        {"email": "thief@example.org", "current_password": "not the password"},
        {"email": None},
    ):
        response = await mail_client.patch("/users/me", json=body, headers=tokens.headers)
        assert response.status_code == 400, (body, response.text)
        assert "detail" in response.json()

    after = await me(mail_client, tokens)
    assert (after["email"], after["email_verified"]) == ("alice@example.org", True)
    same = await mail_client.patch(
        "/users/me", json={"email": "alice@example.org", "full_name": "A"}, headers=tokens.headers
    )
    assert same.status_code == 200
    assert same.json()["email_verified"] is True


async def test_a_new_address_starts_unverified_and_the_old_one_is_told(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    tokens = await verified_alice(mail_client, mail_app, mail_server)

    response = await mail_client.patch(
        "/users/me",
        json={"email": "alice@example.net", "current_password": DEFAULT_PASSWORD},
        headers=tokens.headers,
    )
    notice = await mail_server.next_message()

    assert response.status_code == 200
    assert (response.json()["email"], response.json()["email_verified"]) == (
        "alice@example.net",
        False,
    )
    assert notice["To"] == "alice@example.org"
    assert "changed" in notice["Subject"]
    assert "#token=" not in notice.get_body(("plain",)).get_content()


async def test_wrong_current_passwords_on_an_address_change_count_as_failed_logins(
    mail_client: httpx.AsyncClient, mail_app: RunningApp
):
    await make_user(mail_app.services, email="alice@example.org")
    tokens = await login(mail_client)
    wrong = {"email": "thief@example.org", "current_password": "not the password"}
    for _ in range(mail_app.services.settings.login_max_failures):
        response = await mail_client.patch("/users/me", json=wrong, headers=tokens.headers)
        assert response.status_code == 400

    throttled = await mail_client.patch("/users/me", json=wrong, headers=tokens.headers)
    right = {"email": "thief@example.org", "current_password": DEFAULT_PASSWORD}
    still = await mail_client.patch("/users/me", json=right, headers=tokens.headers)

    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers
    assert still.status_code == 429


async def test_admins_see_whether_an_address_is_verified(
    mail_client: httpx.AsyncClient, mail_app: RunningApp, mail_server: MailServer
):
    await verified_alice(mail_client, mail_app, mail_server)
    await make_user(mail_app.services, "root", is_admin=True)
    admin = await login(mail_client, "root")

    listed = await mail_client.get("/users", headers=admin.headers)

    flags = {u["username"]: u["email_verified"] for u in listed.json()["items"]}
    assert flags == {"alice": True, "root": False}
    one = await mail_client.get(f"/users/{listed.json()['items'][0]['id']}", headers=admin.headers)
    assert one.json()["email_verified"] is True
