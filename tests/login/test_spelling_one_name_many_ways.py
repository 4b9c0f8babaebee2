"""One account, one window (docs/contract.md): every spelling that logs in to an account
(case, Unicode compatibility forms, letters the case mappings fold such as U+0130 `İ`) is
counted in that account's throttling windows; a name that cannot be a registered username is
an unknown user, counted under its own spelling."""

import pytest

from tests.factories import make_user
from tests.fixtures.attacks import (
    LOGIN_MAX_FAILURES,
    WRONG,
    assert_invalid_grant,
    assert_token_throttled,
    password_form,
)

# Spellings that PostgreSQL's lower() or NFKC bring onto `alice`.
SPELLINGS = {
    "upper-case": "ALICE",
    "dotted-capital-i": "al\u0130ce",  # alİce: lower() gives `i` + U+0307 in Python
    "upper-dotted-capital-i": "AL\u0130CE",
    "full-width": "\uff41\uff4c\uff49\uff43\uff45",  # full-width a, l, i, c, e
    "full-width-upper": "\uff21\uff2c\uff29\uff23\uff25",
    "mixed": "aL\u0130\uff43E",
}
# 64 characters alike, then different: two names no username can be (over 50 characters).
LONG_PREFIX = "a" * 64


async def fail(client, username: str, times: int = LOGIN_MAX_FAILURES) -> None:
    for attempt in range(times):
        response = await client.post("/token", data=password_form(username, WRONG))
        assert response.status_code == 400, (username, attempt, response.text)


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
async def test_once_alice_is_locked_out_every_spelling_of_alice_is_429_with_the_right_password(
    client, services, spelling
):
    await make_user(services, "alice")
    await fail(client, "alice")
    assert_token_throttled(await client.post("/token", data=password_form(spelling)))


async def test_failures_under_every_spelling_count_in_one_window(client, services):
    await make_user(services, "alice")
    spellings = list(SPELLINGS.values())[:LOGIN_MAX_FAILURES]
    for spelling in spellings:
        response = await client.post("/token", data=password_form(spelling, WRONG))
        assert response.status_code == 400, (spelling, response.text)
    assert_token_throttled(await client.post("/token", data=password_form("alice")))


async def test_a_locked_out_account_logs_in_under_no_spelling(client, services):
    await make_user(services, "alice")
    await fail(client, "al\u0130ce")
    answers = [
        (await client.post("/token", data=password_form(s))).status_code
        for s in ("alice", *SPELLINGS.values())
    ]
    assert answers == [429] * len(answers)


async def test_a_name_over_fifty_characters_is_refused_like_an_unknown_user(client):
    response = await client.post("/token", data=password_form(LONG_PREFIX + "x", WRONG))
    unknown = await client.post("/token", data=password_form("ghost", WRONG))
    assert_invalid_grant(response)
    assert response.json() == unknown.json()


async def test_two_long_names_alike_in_their_first_64_characters_are_counted_apart(client):
    await fail(client, LONG_PREFIX + "first")
    assert_token_throttled(await client.post("/token", data=password_form(LONG_PREFIX + "first")))
    response = await client.post("/token", data=password_form(LONG_PREFIX + "second", WRONG))
    assert_invalid_grant(response)


@pytest.mark.parametrize(
    "name",
    ["alice!", "alice\u200b", "al ice", "alice\u0307"],
    ids=["punctuation", "zero-width-space", "space", "combining-dot"],
)
async def test_failures_under_a_name_no_username_can_be_never_lock_the_real_account(
    client, services, name
):
    await make_user(services, "alice")
    await fail(client, name)
    response = await client.post("/token", data=password_form("alice"))
    assert response.status_code == 200, response.text
