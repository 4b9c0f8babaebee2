"""Prometheus metrics, one registry per app so several apps can live in one process."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.logins = Counter(
            "keygate_logins",
            "Token requests by grant and result",
            ["grant", "result"],
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "keygate_auth_cache_hits",
            "Auth lookups answered by Redis",
            ["kind"],
            registry=self.registry,
        )
        self.cache_misses = Counter(
            "keygate_auth_cache_misses",
            "Auth lookups that went to PostgreSQL",
            ["kind"],
            registry=self.registry,
        )
        self.redis_fallbacks = Counter(
            "keygate_redis_fallbacks",
            "Redis calls that failed or were skipped by the breaker",
            registry=self.registry,
        )
        self.postgres_fallbacks = Counter(
            "keygate_postgres_unavailable",
            "Requests that needed PostgreSQL while it was down",
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "keygate_request_duration_seconds",
            "Request latency",
            ["method", "route"],
            registry=self.registry,
        )
        # Account recovery mail (app/mail/sender.py): waiting counts the whole outbox, as this
        # worker last saw it.
        self.mail_sent = Counter(
            "keygate_mail_sent", "Messages the mail server accepted", registry=self.registry
        )
        self.mail_failed = Counter(
            "keygate_mail_failed",
            "Messages the mail server refused for good (5xx)",
            registry=self.registry,
        )
        self.mail_waiting = Gauge(
            "keygate_mail_waiting",
            "Messages accepted and not yet sent or failed",
            registry=self.registry,
        )
