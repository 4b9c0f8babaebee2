"""Request bodies over a limit are refused with 413 `{"detail": "Content Too Large"}`, unread
beyond the limit: at once when the declared Content-Length is over it, or as soon as a chunked
body grows past it. A request without a body (every GET) passes through untouched.

Hand-written, for a measured reason and a guarantee. FastAPI's app-wide `max_body_size` wraps
every request, GETs included, in layers of their own, a share of every warm request's time
(README, Performance). FastAPI's route-level `max_body_size` (0.165) wraps only the routes
that set it, but breaks a guarantee of docs/contract.md (Hardening): a declared Content-Length
over the limit is answered with a text/plain 413, not the JSON of every other error, and on a
route that does not read its body (POST /logout) that 413 comes only after the route has run,
the session already ended. Here the request is refused before any route runs."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "Content Too Large"


class BodyTooLarge(HTTPException):
    """Raised from `receive` while the app reads the body; rendered like any HTTPException."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and declared in (None, b"0"):
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse(send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        await self.app(scope, receive_within_limit, send)


async def _refuse(send: Send) -> None:
    body = b'{"detail":"' + TOO_LARGE.encode() + b'"}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
