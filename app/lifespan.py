"""Builds the long-lived objects once per process: pool, Redis, repositories, services."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from fastapi import FastAPI
from redis.asyncio import Redis

from app.auth.basic_verifier import BasicVerifierCache
from app.auth.cache import AuthCache
from app.auth.directory import AuthDirectory
from app.auth.grants import GrantService
from app.auth.introspection import Introspector
from app.auth.invalidation_listener import InvalidationListener
from app.auth.invalidations import InvalidationRepository
from app.auth.keys import load_public_key, load_signing_key
from app.auth.passwords import PasswordHasher
from app.auth.principal import Authenticator
from app.auth.second_factor import SecondFactor
from app.auth.session_journal import SessionJournal
from app.auth.session_repository import SessionRepository
from app.auth.sessions import SessionService
from app.auth.throttle import LoginThrottle
from app.auth.tokens import KeySet, TokenCodec
from app.auth.totp import SecretCipher
from app.auth.totp_repository import TotpRepository
from app.client_address import Network
from app.clock import Clock, system_clock
from app.db import Database, create_database
from app.errors import DatabaseUnavailable
from app.ops.metrics import Metrics
from app.products.repository import ProductRepository
from app.redis import RedisGuard, create_redis
from app.settings import Settings
from app.users.repository import UserRepository
from app.users.service import UserService

log = logging.getLogger(__name__)

CLEANUP_INTERVAL_SECONDS: Final = 3600.0
HEARTBEAT_INTERVAL_SECONDS: Final = 0.5


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    redis: Redis
    redis_guard: RedisGuard
    metrics: Metrics
    hasher: PasswordHasher
    users: UserRepository
    products: ProductRepository
    directory: AuthDirectory
    sessions: SessionService
    authenticator: Authenticator
    codec: TokenCodec
    grants: GrantService
    user_service: UserService
    second_factor: SecondFactor
    introspector: Introspector
    invalidations: InvalidationRepository
    throttle: LoginThrottle
    trusted_proxies: tuple[Network, ...]


async def build_services(settings: Settings, metrics: Metrics, clock: Clock) -> Services:
    db = await create_database(settings)
    redis = create_redis(settings)
    guard = RedisGuard(redis)
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
    guard.on_recovery = directory.apply_pending_invalidations
    sessions = SessionService(
        repository=session_repository,
        journal=SessionJournal(guard, session_repository),
        directory=directory,
        clock=clock,
        refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    throttle = LoginThrottle(
        guard=guard,
        db=db,
        clock=clock,
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_lockout_seconds,
    )
    signing_secret = settings.signing_secret()
    totp_key = settings.totp_encryption_key
    second_factor = SecondFactor(
        repository=TotpRepository(db),
        users=users,
        cipher=SecretCipher(totp_key.get_secret_value() if totp_key else signing_secret),
        guard=guard,
        directory=directory,
        sessions=sessions,
        hasher=hasher,
        clock=clock,
        max_failures=settings.login_max_failures,
    )
    codec = TokenCodec(
        keys=load_key_set(settings, signing_secret),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        clock=clock,
    )
    return Services(
        settings=settings,
        db=db,
        redis=redis,
        redis_guard=guard,
        metrics=metrics,
        hasher=hasher,
        users=users,
        products=ProductRepository(db),
        directory=directory,
        sessions=sessions,
        authenticator=Authenticator(
            codec=codec,
            directory=directory,
            hasher=hasher,
            basic_verifier=BasicVerifierCache(),
            throttle=throttle,
            basic_enabled=settings.basic_auth_enabled,
            clock=clock,
        ),
        codec=codec,
        grants=GrantService(
            directory=directory,
            users=users,
            hasher=hasher,
            sessions=sessions,
            codec=codec,
            throttle=throttle,
            second_factor=second_factor,
            metrics=metrics,
        ),
        user_service=UserService(
            users=users, hasher=hasher, sessions=sessions, directory=directory
        ),
        second_factor=second_factor,
        introspector=Introspector(codec=codec, directory=directory, sessions=sessions, clock=clock),
        trusted_proxies=settings.trusted_proxy_networks,
        invalidations=invalidations,
        throttle=throttle,
    )


def load_key_set(settings: Settings, signing_secret: str) -> KeySet:
    if settings.jwt_algorithm == "HS256" or settings.jwt_private_key_file is None:
        return KeySet.shared_secret(signing_secret)
    signing, current = load_signing_key(settings.jwt_private_key_file, settings.jwt_algorithm)
    previous = [
        load_public_key(path, settings.jwt_algorithm) for path in settings.previous_public_key_paths
    ]
    return KeySet.asymmetric(settings.jwt_algorithm, signing, [current, *previous])


async def clean_up_forever(services: Services) -> None:
    """Keeps the tables that only grow from growing without bound."""
    while True:
        try:
            deleted = await services.sessions.delete_ended()
            if deleted:
                log.info("deleted %d ended sessions", deleted)
            await services.second_factor.delete_ended_challenges()
            await services.invalidations.delete_expired()
        except DatabaseUnavailable:
            log.warning("clean-up skipped: database unavailable")
        await asyncio.sleep(CLEANUP_INTERVAL_SECONDS)


async def watch_redis_forever(guard: RedisGuard, sessions: SessionService) -> None:
    """Notices a Redis outage even on a worker that serves no request during it, so that this
    worker too applies the recorded invalidations before it trusts Redis again; and moves
    sessions journalled during a PostgreSQL outage into PostgreSQL once it is back."""
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)
        if await guard.ping():
            with contextlib.suppress(DatabaseUnavailable):
                await sessions.flush_journal()


async def stop(tasks: list[asyncio.Task[None]]) -> None:
    """Cancels until every task has ended: on Python 3.11 a cancel that arrives as an
    asyncio.wait_for inside redis-py or asyncpg completes is swallowed, and one cancel
    would then leave a loop running and the shutdown hanging."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)


def make_lifespan(settings: Settings, metrics: Metrics, clock: Clock = system_clock):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await build_services(settings, metrics, clock)
        app.state.services = services
        background = [
            asyncio.create_task(clean_up_forever(services)),
            asyncio.create_task(watch_redis_forever(services.redis_guard, services.sessions)),
            asyncio.create_task(
                InvalidationListener(
                    settings.database_listen_url or settings.database_url,
                    services.directory,
                    services.redis_guard,
                ).run_forever()
            ),
        ]
        try:
            yield
        finally:
            await stop(background)
            await services.redis.aclose()
            await services.db.pool.close()
            services.hasher.close()

    return lifespan
