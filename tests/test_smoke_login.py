from tests.factories import basic, login, make_user


async def test_a_registered_user_logs_in_and_reads_their_account(client, services):
    await make_user(services)
    tokens = await login(client)
    response = await client.get("/users/me", headers=tokens.headers)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert (await client.get("/users/me", headers=basic("alice", "correct horse battery staple"))).status_code == 200
