"""Request latency for /metrics: a plain ASGI middleware (no body buffering)."""

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from app.ops.metrics import Metrics


class LatencyMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.request_seconds.labels(scope["method"], path).observe(
                time.perf_counter() - started
            )
