"""Who is asking: the client's address (behind TRUSTED_PROXIES, from X-Forwarded-For) and
user agent, as the services want them."""

from starlette.requests import HTTPConnection

from app.core.client_address import Network, client_address
from app.login.request_origin import RequestOrigin


def client_ip(connection: HTTPConnection, trusted: tuple[Network, ...]) -> str | None:
    peer = connection.client.host if connection.client else None
    return client_address(peer, connection.headers.getlist("x-forwarded-for"), trusted)


def origin_of(connection: HTTPConnection, trusted: tuple[Network, ...]) -> RequestOrigin:
    return RequestOrigin(
        ip=client_ip(connection, trusted), user_agent=connection.headers.get("user-agent")
    )
