"""Settings named after the contract's environment variables (docs/contract.md, Configuration)."""

import secrets
from pathlib import Path
from typing import Final, Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.client_address import Network, parse_networks
from app.core.redis_connection import parse_redis_url
from app.core.smtp_url import parse_smtp_url

MIN_SECRET_BYTES: Final = 32


def fernet_keys(spec: str) -> list[str]:
    return [key.strip() for key in spec.split(",") if key.strip()]


DEV_SECRET_FILE: Final = Path(".keygate-jwt-secret")


class Settings(BaseSettings):
    # hide_input_in_errors: a refused URL may hold a password; an error names the variable.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    database_url: str = "postgresql://postgres@127.0.0.1:5432/keygate"
    # A direct (session) connection for LISTEN, when DATABASE_URL goes through PgBouncer in
    # transaction mode; DATABASE_URL when unset.
    database_listen_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    app_env: Literal["development", "production"] = "development"
    jwt_secret: SecretStr | None = None
    jwt_algorithm: Literal["HS256", "ES256", "RS256"] = "HS256"
    jwt_private_key_file: Path | None = None

    # Comma-separated PEM files of retired keys, still verified and published.
    jwt_previous_public_key_files: str = ""
    jwt_issuer: str = "keygate"
    jwt_audience: str = "keygate"
    access_token_ttl_seconds: int = Field(900, ge=1)
    # Clock leeway when judging exp (and iat): a token dies ACCESS_TOKEN_TTL_SECONDS plus this
    # after it was issued.
    jwt_leeway_seconds: int = Field(0, ge=0, le=300)
    refresh_token_ttl_seconds: int = Field(1_209_600, ge=1)
    auth_cache_ttl_seconds: int = Field(300, ge=0)
    bcrypt_rounds: int = Field(12, ge=4, le=31)
    login_max_failures: int = Field(5, ge=1)
    login_lockout_seconds: int = Field(300, ge=1)
    # Wrong second-factor codes of one user, over every mfa_token, address and the one-step
    # otp, within LOGIN_LOCKOUT_SECONDS.
    otp_max_failures: int = Field(10, ge=1)
    registration_open: bool = True
    registration_max_per_address: int = Field(20, ge=1)
    registration_window_seconds: int = Field(3600, ge=1)
    basic_auth_enabled: bool = True
    account_page_enabled: bool = True
    # Comma-separated addresses or networks whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # Comma-separated Fernet keys for TOTP secrets at rest: the first encrypts, all decrypt.
    # Derived from the JWT secret when unset.
    totp_encryption_keys: SecretStr | None = None
    # Logins (per worker) allowed to wait for a bcrypt thread before /token answers 503.
    login_queue_size: int = Field(8, ge=1)
    database_pool_size: int = Field(10, ge=1)
    # 0 behind PgBouncer in transaction mode (prepared statements do not survive a switch).
    database_statement_cache_size: int = Field(100, ge=0)
    redis_timeout_seconds: float = Field(0.25, gt=0)
    # What one client can hold of a worker (docs/contract.md §8): the request line plus headers,
    # the time to send them (from the connection's start or its last response), the time the
    # body may take after them, and open connections per worker.
    http_max_header_bytes: int = Field(16384, ge=1024)
    http_header_timeout_seconds: float = Field(10, gt=0)
    http_body_timeout_seconds: float = Field(30, gt=0)
    http_max_connections: int = Field(1000, ge=1)
    # When set, GET /metrics needs it as a bearer token; unset, /metrics is open in development
    # and 404 in production.
    metrics_token: SecretStr | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # console (one readable line a record) or json; unset: console in development, json in
    # production (see effective_log_format).
    log_format: Literal["console", "json"] | None = None
    # Account recovery and email (docs/contract.md, Account recovery). SMTP_URL may hold the
    # mail server's password: a secret.
    smtp_url: SecretStr | None = None
    mail_from: str = "keygate <no-reply@localhost>"
    public_url: str = "http://127.0.0.1:8000"
    password_reset_ttl_seconds: int = Field(1800, ge=1)
    email_verification_ttl_seconds: int = Field(86400, ge=1)
    recovery_max_per_address: int = Field(10, ge=1)
    recovery_max_per_account: int = Field(3, ge=1)
    recovery_window_seconds: int = Field(3600, ge=1)

    @field_validator(
        "jwt_secret",
        "totp_encryption_keys",
        "jwt_private_key_file",
        "database_listen_url",
        "log_format",
        "metrics_token",
        "smtp_url",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, value: str) -> str:
        parse_redis_url(value)  # its messages say what is wrong, never quoting the URL
        return value

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.app_env == "production" else "console"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        # A field validator, so that a refusal names TRUSTED_PROXIES.
        parse_networks(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_ignores_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("totp_encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for key in fernet_keys(value.get_secret_value()):
                try:
                    Fernet(key)
                except ValueError as exc:
                    raise ValueError(
                        "each key must be a Fernet key: 32 url-safe base64-encoded bytes,"
                        " as cryptography's Fernet.generate_key() makes (see .env.example)"
                    ) from exc
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_smtp_url(value.get_secret_value())  # its messages never quote the URL
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @model_validator(mode="after")
    def _asymmetric_needs_a_key_file(self) -> "Settings":
        if self.jwt_algorithm != "HS256" and self.jwt_private_key_file is None:
            raise ValueError(
                f"JWT_PRIVATE_KEY_FILE must be set when JWT_ALGORITHM={self.jwt_algorithm}"
            )
        return self

    @property
    def previous_public_key_paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.jwt_previous_public_key_files.split(",") if p.strip()]

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
