"""The Basic transport reads `name:password` from the Authorization header; the pair it
returns never shows the password when it is printed or logged."""

import base64

import pytest

from app.authentication.transports import Authorization, BasicTransport, UsernamePassword
from app.core.errors import InvalidBasicCredentials


def basic(text: str) -> Authorization:
    return Authorization.parse("Basic " + base64.b64encode(text.encode()).decode())


def test_the_name_and_password_are_split_at_the_first_colon():
    assert BasicTransport().credentials(basic("ada:pass:word")) == ("ada", "pass:word")


@pytest.mark.parametrize("text", ["no colon", ":no name"])
def test_a_pair_without_a_name_is_refused(text):
    with pytest.raises(InvalidBasicCredentials):
        BasicTransport().credentials(basic(text))


def test_a_printed_pair_hides_its_password():
    pair = UsernamePassword("ada", "correct horse battery")
    assert "correct horse" not in repr(pair)
    assert "correct horse" not in str(pair)
    assert "ada" in repr(pair)
