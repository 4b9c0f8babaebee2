"""SMTP_URL names the mail server and how to reach it; a bad one is refused at startup with a
reason that never quotes the URL, which may hold a password (docs/contract.md, Account
recovery)."""

import pytest
from pydantic import ValidationError

from app.core.settings import Settings
from app.core.smtp_url import parse_smtp_url


@pytest.mark.parametrize(
    ("url", "host", "port", "implicit_tls", "username", "password"),
    [
        ("smtp://mail.example.org", "mail.example.org", 25, False, None, None),
        ("smtp://relay:2525", "relay", 2525, False, None, None),
        ("smtps://mail.example.org", "mail.example.org", 465, True, None, None),
        ("smtp://keygate:p%40ss@mail:587", "mail", 587, False, "keygate", "p@ss"),
        ("smtps://a%40b.org:s3cret@mail", "mail", 465, True, "a@b.org", "s3cret"),
    ],
)
def test_smtp_urls_name_host_port_tls_and_login(url, host, port, implicit_tls, username, password):
    server = parse_smtp_url(url)

    assert (server.host, server.port, server.implicit_tls) == (host, port, implicit_tls)
    assert (server.username, server.password) == (username, password)
    assert "s3cret" not in repr(server)


@pytest.mark.parametrize(
    "url",
    [
        "http://mail:25",
        "smtp://",
        "smtp://u:s3cret@mail:99999",
        "smtp://u:s3cret@mail/path",
        "smtp://u:s3cret@mail?x=1",
    ],
)
def test_a_bad_smtp_url_is_refused_without_quoting_it(url):
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, smtp_url=url)

    assert "SMTP_URL" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_an_empty_smtp_url_means_no_mail_server():
    assert Settings(_env_file=None, smtp_url="").smtp_url is None
