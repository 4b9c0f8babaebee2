"""Per request: an id (kept from X-Request-ID or made) returned in the response, a latency
observation for /metrics and one access-log line. A plain ASGI middleware: it never buffers
a body."""

import logging
import re
import time
import uuid
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ops.logging import request_id_var
from app.ops.metrics import Metrics

access_log = logging.getLogger("keygate.access")
error_log = logging.getLogger("keygate.error")

# A client's id is kept only if it is short and plain, so it cannot forge log structure.
REQUEST_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if REQUEST_ID_PATTERN.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, while the request id is known; the server logs it again without.
            error_log.exception(
                "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
            )
            raise
        finally:
            duration = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request_seconds.labels(scope["method"], route).observe(duration)
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                    "user_id": scope.get("state", {}).get("user_id"),
                },
            )
            request_id_var.reset(token)
