"""Per request: an id (kept from X-Request-ID or made) returned in the response, the
Server-Timing header authentication left in the request's state, a latency
observation for /metrics and one access-log line. A plain ASGI middleware: it never buffers
a body. It runs on every request, so it does no work it can avoid: the latency is observed
without locks (app/ops/metrics.py), and the access line is written without a LogRecord under
keygate's own log configuration (app/ops/access_log.py) and not at all when the access log is
off."""

import logging
import random
import re
import time
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ops.access_log import log_access
from app.ops.logging import request_id_var
from app.ops.metrics import Metrics

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
    return new_request_id()


def new_request_id() -> str:
    """128 random bits in hex. A request id traces a request and guards nothing (a client may
    choose its own), so it comes from `random`, not from the operating system: os.urandom is a
    system call on every request. `random` reseeds itself from the system in a forked child,
    so workers forked from one parent do not repeat each other's ids."""
    return random.randbytes(16).hex()  # noqa: S311 (a tracing id, not a secret)


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.latency = metrics.request_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # This request's own state (Request.state): a server may hand every request the same
        # lifespan-state dict (ASGI asks for a copy; not every server or test client makes one).
        state = scope["state"] = dict(scope.get("state", ()))
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        status = 500
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                # Set by authentication: how the credentials were checked, on every response
                # after it (an error included).
                timing = state.get("server_timing")
                if timing is not None:
                    headers.append((b"server-timing", timing.encode()))
                message["headers"] = headers
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # logged with its request id, then re-raised
            # Logged here, while the request id is known; the server logs it again without.
            error_log.exception(
                "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
            )
            raise
        finally:
            duration = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(scope["method"], route).observe(duration)
            log_access(
                scope["method"],
                scope["path"],
                status,
                round(duration * 1000, 2),
                state.get("user_id"),
            )
            request_id_var.reset(token)
