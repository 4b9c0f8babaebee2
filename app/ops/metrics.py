"""Prometheus metrics, one registry per app so several apps can live in one process."""

import time
from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class LatencyTally:
    """The observations of one series of a LatencyHistogram: a count per bucket (not
    cumulative), their sum and when the series began."""

    __slots__ = ("_bounds", "counts", "created", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)
        self.total = 0.0
        self.created = time.time()

    def observe(self, seconds: float) -> None:
        # The first bucket whose bound is >= seconds, as Histogram.observe finds it.
        self.counts[bisect_left(self._bounds, seconds)] += 1
        self.total += seconds


class LatencyHistogram(Collector):
    """A histogram observed from one thread: the event loop of a worker, where every request
    is observed. Exposed as prometheus_client's Histogram exposes the same observations (the
    same samples, labels, `le` values, sums and `_created`).

    Kept by hand for a measured reason: Histogram.observe takes two locks and walks the
    buckets in Python, a share of every request's time (README, Performance). Here an
    observation is a bisection and two additions on plain numbers, exact because only one
    thread adds to them; a scrape reads them as they stand, as it reads Histogram's."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
    ) -> None:
        bounds = [float(bound) for bound in buckets]
        if bounds != sorted(bounds) or len(bounds) < 1:
            raise ValueError("buckets must be sorted and not empty")
        if bounds[-1] != float("inf"):
            bounds.append(float("inf"))
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._bounds = bounds
        self._le = [floatToGoString(bound) for bound in bounds]  # type: ignore[no-untyped-call]
        self._series: dict[tuple[str, ...], LatencyTally] = {}
        registry.register(self)

    def labels(self, *values: str) -> LatencyTally:
        tally = self._series.get(values)
        if tally is None:
            if len(values) != len(self._labelnames):
                raise ValueError(f"{self._name} takes labels {self._labelnames}")
            tally = self._series[values] = LatencyTally(self._bounds)
        return tally

    def describe(self) -> list[Metric]:
        return [Metric(self._name, self._documentation, "histogram")]

    def collect(self) -> list[Metric]:
        metric = Metric(self._name, self._documentation, "histogram")
        for values, tally in list(self._series.items()):
            labels = dict(zip(self._labelnames, values, strict=True))
            cumulative = 0.0
            for le, count in zip(self._le, tally.counts, strict=True):
                cumulative += count
                metric.add_sample(f"{self._name}_bucket", {**labels, "le": le}, cumulative)
            metric.add_sample(f"{self._name}_count", labels, cumulative)
            metric.add_sample(f"{self._name}_sum", labels, tally.total)
            metric.add_sample(f"{self._name}_created", labels, tally.created)
        return [metric]


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
        self.request_seconds = LatencyHistogram(
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
