"""The latency histogram in /metrics reads as prometheus_client's own Histogram would for
the same requests: a dashboard or alert written against one reads the other."""

import re

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from app.ops.metrics import LatencyHistogram

# On a bucket bound, between bounds, past the last finite one, zero, and values whose sum
# depends on the order of the additions.
OBSERVATIONS = [
    ("GET", "/health", 0.005),
    ("GET", "/health", 0.0071),
    ("GET", "/users/me", 0.1),
    ("POST", "/token", 12.5),
    ("GET", "/health", 0.0),
    ("GET", "/users/me", 0.1 + 0.2),
    ("GET", "/users/me", 1e-7),
    ("POST", "/token", 2.5),
]


def exposition(kind: type) -> str:
    registry = CollectorRegistry()
    histogram = kind("latency_seconds", "Request latency", ["method", "route"], registry=registry)
    for method, route, seconds in OBSERVATIONS:
        histogram.labels(method, route).observe(seconds)
    text = generate_latest(registry).decode()
    # When each series began differs between the two; that it is shown does not.
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 <time>", text)


def test_latency_is_exposed_as_prometheus_clients_histogram_exposes_it():
    ours = exposition(LatencyHistogram)

    assert ours == exposition(Histogram)
    assert 'latency_seconds_count{method="GET",route="/health"} 3.0' in ours
    assert 'latency_seconds_bucket{le="0.005",method="GET",route="/health"} 2.0' in ours
