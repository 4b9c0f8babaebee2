"""The Authorization header -> Principal: each transport is asked for its credentials, and
the strategy for those credentials checks them."""

from app.authentication.password_strategy import ClientIp, PasswordStrategy
from app.authentication.principal import Principal
from app.authentication.token_strategy import TokenStrategy
from app.authentication.transports import Authorization, BasicTransport, BearerTransport
from app.core.errors import InvalidToken, MissingCredentials


class Authenticator:
    def __init__(
        self,
        *,
        tokens: TokenStrategy,
        passwords: PasswordStrategy,
        basic_enabled: bool,
    ) -> None:
        self.tokens = tokens
        self.passwords = passwords
        self.basic_enabled = basic_enabled
        self._bearer = BearerTransport()
        self._basic = BasicTransport()

    async def authenticate(self, header: str | None, client_ip: ClientIp) -> Principal:
        """`client_ip` is asked only when a password must be checked (attempts are counted
        by address): a warm request needs no address."""
        authorization = Authorization.parse(header)
        token = self._bearer.token(authorization)
        if token is not None:
            return await self.tokens.authenticate(token)
        if self.basic_enabled:
            credentials = self._basic.credentials(authorization)
            if credentials is not None:
                return await self.passwords.authenticate(credentials, client_ip)
        elif authorization.scheme == BasicTransport.scheme and authorization.credentials:
            # Basic credentials where Basic is off: answered as a bad credential, not a
            # missing one, so the client is not asked for Basic again.
            raise InvalidToken
        raise MissingCredentials(self.basic_enabled)
