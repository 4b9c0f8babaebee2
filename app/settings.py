"""Settings named after the contract's environment variables (../shared/API.md §2)."""

import secrets
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.client_address import Network, parse_networks

MIN_SECRET_BYTES: Final = 32
DEV_SECRET_FILE: Final = Path(".keygate-jwt-secret")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/keygate"
    redis_url: str = "redis://127.0.0.1:6379/0"
    app_env: Literal["development", "production"] = "development"
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "keygate"
    jwt_audience: str = "keygate"
    access_token_ttl_seconds: int = Field(900, ge=1)
    refresh_token_ttl_seconds: int = Field(1_209_600, ge=1)
    auth_cache_ttl_seconds: int = Field(300, ge=0)
    bcrypt_rounds: int = Field(12, ge=4, le=31)
    login_max_failures: int = Field(5, ge=1)
    login_lockout_seconds: int = Field(300, ge=1)
    registration_open: bool = True
    basic_auth_enabled: bool = True
    # Comma-separated addresses or networks whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # Key material for TOTP secrets at rest; derived from the JWT secret when unset.
    totp_encryption_key: SecretStr | None = None
    # Logins allowed to wait for a bcrypt thread before /token answers 503.
    login_queue_size: int = Field(64, ge=1)
    database_pool_size: int = Field(10, ge=1)
    redis_timeout_seconds: float = Field(0.25, gt=0)

    @field_validator("jwt_secret", "totp_encryption_key", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _proxies_parse(self) -> "Settings":
        parse_networks(self.trusted_proxies)
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @model_validator(mode="after")
    def _production_needs_a_strong_secret(self) -> "Settings":
        if self.app_env == "production":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes "
                    "when APP_ENV=production"
                )
        return self

    def signing_secret(self, dev_secret_file: Path = DEV_SECRET_FILE) -> str:
        """The HS256 key: JWT_SECRET, or in development one generated once and kept on disk
        (untracked) so that restarts do not log everyone out."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if dev_secret_file.exists():
            return dev_secret_file.read_text().strip()
        secret = secrets.token_urlsafe(48)
        dev_secret_file.touch(mode=0o600)
        dev_secret_file.write_text(secret)
        return secret
