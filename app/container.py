"""Builds every long-lived object once per process: pool, Redis, repositories, services."""

from dataclasses import dataclass

from app.accounts.registration import Registration
from app.accounts.service import AccountService
from app.api.schemas.products import ProductJson
from app.authcache.cache import AuthCache
from app.authcache.directory import AuthDirectory
from app.authcache.invalidations import NOTIFY_CHANNEL as INVALIDATIONS_CHANNEL
from app.authcache.invalidations import InvalidationRepository
from app.authcache.listener import InvalidationListener
from app.authentication.authenticator import Authenticator
from app.authentication.password_strategy import PasswordStrategy
from app.authentication.token_strategy import TokenStrategy
from app.authentication.verified_passwords import VerifiedPasswords
from app.core.client_address import Network
from app.core.clock import Clock
from app.core.db import Database, create_database
from app.core.notifications import Notifications
from app.core.redis import RedisGuard, create_redis
from app.core.redis_connection import RedisClient
from app.core.settings import Settings, fernet_keys
from app.core.smtp_url import parse_smtp_url
from app.login.device_repository import DeviceTokenRepository
from app.login.device_tokens import DeviceTokens
from app.login.failure_repository import FailureRepository
from app.login.password_check import PasswordCheck
from app.login.throttle import LoginThrottle
from app.login.windows import SlidingWindows
from app.mail.development_log import DevelopmentLogTransport
from app.mail.outbox import MailOutbox
from app.mail.sender import MailSender, Transport
from app.mail.smtp import SmtpTransport
from app.mfa.challenges import Challenges
from app.mfa.enrolment import TotpEnrolment
from app.mfa.repository import TotpRepository
from app.mfa.totp import SecretCipher
from app.mfa.verification import CodeVerifier
from app.oauth.introspection import Introspector
from app.oauth.issuer import GrantServices
from app.oauth.registry import GrantRegistry
from app.ops.metrics import Metrics
from app.products.cache import NOTIFY_CHANNEL as PRODUCTS_CHANNEL
from app.products.cache import ProductCache
from app.products.repository import ProductRepository
from app.recovery.repository import RecoveryTokenRepository
from app.recovery.service import RecoveryLimits, RecoveryService
from app.sessions.events import SessionEvents
from app.sessions.journal import SessionJournal
from app.sessions.repository import SessionRepository
from app.sessions.service import SessionService
from app.tokens.codec import TokenCodec, load_key_set
from app.users.passwords import PasswordHasher
from app.users.repository import UserRepository


@dataclass(frozen=True)
class Container:
    settings: Settings
    db: Database
    redis: RedisClient
    redis_guard: RedisGuard
    metrics: Metrics
    hasher: PasswordHasher
    users: UserRepository
    products: ProductCache
    directory: AuthDirectory
    invalidations: InvalidationRepository
    # The worker's LISTEN connection, and what it tells (started by the lifespan).
    notifications: Notifications
    invalidation_listener: InvalidationListener
    sessions: SessionService
    throttle: LoginThrottle
    windows: SlidingWindows
    authenticator: Authenticator
    codec: TokenCodec
    grants: GrantRegistry
    device_tokens: DeviceTokens
    challenges: Challenges
    enrolment: TotpEnrolment
    accounts: AccountService
    registration: Registration
    introspector: Introspector
    trusted_proxies: tuple[Network, ...]
    mail_outbox: MailOutbox
    recovery: RecoveryService
    # None in production without SMTP_URL: then nothing is ever queued.
    mail_sender: MailSender | None

    async def close(self) -> None:
        await self.redis_guard.close()
        await self.redis.aclose()
        await self.db.pool.close()
        self.hasher.close()


async def build_container(settings: Settings, metrics: Metrics, clock: Clock) -> Container:
    db = await create_database(settings)
    redis = create_redis(settings)
    # WAIT must return before the socket times out: half of REDIS_TIMEOUT_SECONDS.
    guard = RedisGuard(redis, replica_wait_ms=int(settings.redis_timeout_seconds * 500))
    guard.on_unavailable = metrics.redis_fallbacks.inc
    hasher = PasswordHasher(settings.bcrypt_rounds, settings.login_queue_size)
    await hasher.warm_up()
    users = UserRepository(db)
    session_repository = SessionRepository(db)
    invalidations = InvalidationRepository(db, settings.auth_cache_ttl_seconds)
    directory = AuthDirectory(
        cache=AuthCache(guard, settings.auth_cache_ttl_seconds),
        users=users,
        sessions=session_repository,
        invalidations=invalidations,
        metrics=metrics,
        clock=clock,
    )
    guard.before_trusting_again(directory.apply_pending_invalidations)
    notifications = Notifications(settings.database_listen_url or settings.database_url)
    invalidation_listener = InvalidationListener(directory, guard)
    notifications.subscribe(INVALIDATIONS_CHANNEL, invalidation_listener.on_notification)
    products = ProductCache(ProductRepository(db), notifications, ProductJson())
    notifications.subscribe(PRODUCTS_CHANNEL, products.clear)
    session_events = SessionEvents()
    session_events.on_change(directory.publish_sessions)
    session_events.on_start_without_database(directory.publish_live_session)
    sessions = SessionService(
        repository=session_repository,
        journal=SessionJournal(guard, session_repository),
        events=session_events,
        clock=clock,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    windows = SlidingWindows(guard=guard, failures=FailureRepository(db), clock=clock)
    throttle = LoginThrottle(
        windows=windows,
        max_failures=settings.login_max_failures,
        code_max_failures=settings.otp_max_failures,
        window_seconds=settings.login_lockout_seconds,
    )
    device_tokens = DeviceTokens(
        repository=DeviceTokenRepository(db),
        clock=clock,
        ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    passwords = PasswordCheck(
        directory=directory,
        users=users,
        hasher=hasher,
        throttle=throttle,
        devices=device_tokens,
    )
    signing_secret = settings.signing_secret()
    totp_keys = settings.totp_encryption_keys
    cipher = (
        SecretCipher([k.encode() for k in fernet_keys(totp_keys.get_secret_value())])
        if totp_keys
        else SecretCipher.derived_from(signing_secret)
    )
    totp_repository = TotpRepository(db)
    codes = CodeVerifier(repository=totp_repository, cipher=cipher, guard=guard, clock=clock)
    challenges = Challenges(
        repository=totp_repository, clock=clock, max_failures=settings.login_max_failures
    )
    enrolment = TotpEnrolment(
        repository=totp_repository,
        users=users,
        cipher=cipher,
        codes=codes,
        directory=directory,
        clock=clock,
    )
    codec = TokenCodec(
        keys=load_key_set(settings, signing_secret),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        leeway_seconds=settings.jwt_leeway_seconds,
        clock=clock,
    )
    outbox = MailOutbox(db, clock, is_enabled=mail_transport(settings) is not None)
    accounts = AccountService(
        users=users,
        hasher=hasher,
        sessions=sessions,
        directory=directory,
        totp=totp_repository,
        codes=codes,
        throttle=throttle,
        outbox=outbox,
        enrolment=enrolment,
    )
    recovery = RecoveryService(
        users=users,
        tokens=RecoveryTokenRepository(db, clock),
        outbox=outbox,
        windows=windows,
        hasher=hasher,
        accounts=accounts,
        throttle=throttle,
        directory=directory,
        limits=RecoveryLimits(
            public_url=settings.public_url,
            reset_ttl_seconds=settings.password_reset_ttl_seconds,
            verification_ttl_seconds=settings.email_verification_ttl_seconds,
            max_per_address=settings.recovery_max_per_address,
            max_per_account=settings.recovery_max_per_account,
            window_seconds=settings.recovery_window_seconds,
        ),
    )
    transport = mail_transport(settings)
    return Container(
        settings=settings,
        db=db,
        redis=redis,
        redis_guard=guard,
        metrics=metrics,
        hasher=hasher,
        users=users,
        products=products,
        directory=directory,
        invalidations=invalidations,
        notifications=notifications,
        invalidation_listener=invalidation_listener,
        sessions=sessions,
        throttle=throttle,
        windows=windows,
        authenticator=Authenticator(
            tokens=TokenStrategy(codec=codec, directory=directory, clock=clock),
            passwords=PasswordStrategy(passwords=passwords, verified=VerifiedPasswords()),
            basic_enabled=settings.basic_auth_enabled,
        ),
        codec=codec,
        grants=GrantRegistry(
            GrantServices(
                directory=directory,
                passwords=passwords,
                throttle=throttle,
                devices=device_tokens,
                codes=codes,
                challenges=challenges,
                sessions=sessions,
                codec=codec,
                metrics=metrics,
            )
        ),
        device_tokens=device_tokens,
        challenges=challenges,
        enrolment=enrolment,
        accounts=accounts,
        registration=Registration(
            users=users,
            directory=directory,
            hasher=hasher,
            windows=windows,
            is_open=settings.registration_open,
            max_per_address=settings.registration_max_per_address,
            window_seconds=settings.registration_window_seconds,
            clock=clock,
        ),
        introspector=Introspector(codec=codec, directory=directory, sessions=sessions, clock=clock),
        trusted_proxies=settings.trusted_proxy_networks,
        mail_outbox=outbox,
        recovery=recovery,
        mail_sender=MailSender(
            outbox=outbox, transport=transport, compose=recovery.compose, metrics=metrics
        )
        if transport is not None
        else None,
    )


def mail_transport(settings: Settings) -> Transport | None:
    """SMTP when SMTP_URL is set; else the log in development, and nothing in production."""
    if settings.smtp_url is not None:
        return SmtpTransport(
            parse_smtp_url(settings.smtp_url.get_secret_value()), settings.mail_from
        )
    return DevelopmentLogTransport() if settings.app_env == "development" else None
