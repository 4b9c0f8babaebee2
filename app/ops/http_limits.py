"""What one client can hold of a worker: the size of a request head, the time to send it and
its body, and the number of open connections (docs/contract.md §8, HTTP_* settings).

uvicorn's protocols are subclassed rather than put behind a proxy because the head must be
measured before a parser sees it: httptools joins the pieces of a header with `bytes +=` (and
uvicorn the pieces of the URL), so parsing a head costs time that grows with the square of its
size, and uvicorn bounds a head only for h11 and answers 400 there. Here the bytes of a head
are counted as they arrive and the parser is fed at most HTTP_MAX_HEADER_BYTES of them: past
that the client gets 431 and the connection is closed, in time linear in what was sent.

uvicorn's `limit_concurrency` is not used for the connection limit: it answers 503 only once a
request head has arrived, so connections that never send one still hold their descriptors.
Here a connection past HTTP_MAX_CONNECTIONS is closed as soon as it is accepted."""

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Final

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout_seconds: float
    body_timeout_seconds: float
    max_connections: int


class LimitedConfig(uvicorn.Config):
    """uvicorn's Config carrying the limits to the protocols of every worker (it is pickled
    into each worker process, so the limits travel with it)."""

    def __init__(self, app: str, *, limits: HttpLimits, **kwargs: Any) -> None:
        kwargs.setdefault("http", LIMITED_PROTOCOL)
        # h11 is fed at most the allowed head, so its own bound (a 400) never comes first.
        kwargs["h11_max_incomplete_event_size"] = limits.max_header_bytes + 1
        super().__init__(app, **kwargs)
        self.limits = limits


def _error_response(status: bytes, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    return b"".join(
        [
            b"HTTP/1.1 " + status + b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
    )


HEAD_TOO_LARGE: Final = _error_response(
    b"431 Request Header Fields Too Large", "request line and headers too large"
)
BODY_TOO_SLOW: Final = _error_response(b"408 Request Timeout", "request body not sent in time")
# After a 431 or 408 the client may still be sending: what it sends is read and dropped for
# this long before the socket closes, since closing with unread bytes resets the connection
# and the client would lose the answer.
LINGER_SECONDS: Final = 2.0


class _Limited(asyncio.Protocol):
    """The limits, over a uvicorn HTTP protocol that comes after this class in the MRO.

    A subclass says, from its parser's state, whether a request head is awaited and whether a
    body is still to come."""

    # Set by uvicorn's protocol classes, which this mixin precedes.
    transport: asyncio.Transport
    server_state: ServerState
    cycle: Any
    loop: asyncio.AbstractEventLoop

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)  # type: ignore[call-arg]
        self._init_limits(config)

    def _init_limits(self, config: uvicorn.Config) -> None:
        if not isinstance(config, LimitedConfig):
            raise TypeError("the limited HTTP protocols need a LimitedConfig")
        self._limits = config.limits
        self._head_bytes = 0
        # The head clock: when the awaited head is due (None: no head awaited against time),
        # and the timer that checks it with the deadline it was set for; the timer may be left
        # running when the deadline is lifted or moved (see _start_head_clock).
        self._head_deadline: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_timer_deadline = 0.0
        self._body_timer: asyncio.TimerHandle | None = None
        self._answered = False

    def _awaiting_head(self) -> bool:
        raise NotImplementedError

    def _body_pending(self) -> bool:
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if len(self.server_state.connections) > self._limits.max_connections:
            self.transport.close()
            return
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    # Whether the parser reads buffered bytes when a response completes (h11 does, so a head
    # may arrive then; uvicorn's httptools protocol feeds its parser only in data_received).
    _parses_after_response = True

    def data_received(self, data: bytes) -> None:
        if self._answered:
            return
        if len(data) <= self._limits.max_header_bytes - self._head_bytes:
            # Within the bytes a head may still take (a whole small request, nearly always):
            # the parser sees them all, as the loop below would have it.
            if not self.transport.is_closing():
                if self._awaiting_head():
                    self._head_bytes += len(data)
                super().data_received(data)
            self._follow_request()
            return
        while data and not self.transport.is_closing() and not self._answered:
            if not self._awaiting_head():
                super().data_received(data)
                break
            # The head must end within the bytes still allowed; the parser sees no more.
            room = self._limits.max_header_bytes - self._head_bytes
            allowed, data = data[:room], data[room:]
            self._head_bytes += len(allowed)
            if allowed:
                super().data_received(allowed)
            if data and self._awaiting_head():
                self._answer_and_close(HEAD_TOO_LARGE)
                break
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self._parses_after_response:
            self._follow_request()
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self._awaiting_head() and not self.transport.is_closing():
            self._start_head_clock()

    def _head_complete(self) -> None:
        """A whole head arrived: its clock stops and the next head's count starts."""
        self._head_bytes = 0
        self._head_deadline = None

    def _start_head_clock(self) -> None:
        """The next head is due in HTTP_HEADER_TIMEOUT_SECONDS. A timer still running for an
        earlier deadline is kept and moves itself on when it fires: on a keep-alive connection
        the clock starts and stops with every request, and a new timer and a cancelled one
        each time (call_later and TimerHandle.cancel) were a measured share of a request's
        time, where a deadline is one loop.time()."""
        self._head_deadline = self.loop.time() + self._limits.header_timeout_seconds
        if self._head_timer is None:
            self._set_head_timer(self._head_deadline)

    def _set_head_timer(self, deadline: float) -> None:
        self._head_timer = self.loop.call_at(deadline, self._check_head_clock)
        self._head_timer_deadline = deadline

    def _check_head_clock(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None:
            return
        # Moved on since the timer was set: set again. Otherwise the head is late (compared
        # with the timer's own deadline, not a fresh loop.time(): a timer may fire a little
        # before its time, and must not then set itself again and again).
        if deadline > self._head_timer_deadline:
            self._set_head_timer(deadline)
            return
        self._head_deadline = None
        self._head_too_slow()

    def _follow_request(self) -> None:
        """After the parser has seen new bytes: a body to come has HTTP_BODY_TIMEOUT_SECONDS to
        arrive."""
        if self._awaiting_head():
            self._cancel_body_timer()
            return
        self._head_complete()
        if not self._body_pending():
            self._cancel_body_timer()
        elif self._body_timer is None:
            self._body_timer = self.loop.call_later(
                self._limits.body_timeout_seconds, self._body_too_slow
            )

    def _head_too_slow(self) -> None:
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._awaiting_head() and not answering:
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if not self._body_pending() or self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The application sees a disconnect and nothing it sends is written after the 408.
            cycle.disconnected = True
            cycle.message_event.set()
            self._answer_and_close(BODY_TOO_SLOW)
        else:
            self.transport.close()

    def _answer_and_close(self, response: bytes) -> None:
        """Sends `response`, ends our side, drops what else arrives, then closes."""
        self._answered = True
        self._cancel_head_timer()
        self._cancel_body_timer()
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _cancel_head_timer(self) -> None:
        self._head_deadline = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None


class LimitedHttpToolsProtocol(_Limited, HttpToolsProtocol):
    """httptools (uvicorn's default when it is installed), within the limits."""

    _parses_after_response = False
    # Where the parser is, kept from its callbacks (httptools has no state to ask).
    _in_head = True
    _in_body = False

    def _awaiting_head(self) -> bool:
        return self._in_head

    def _body_pending(self) -> bool:
        return self._in_body

    def on_headers_complete(self) -> None:
        self._in_head, self._in_body = False, True
        self._head_complete()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._in_body = True, False
        super().on_message_complete()


class LimitedH11Protocol(_Limited, H11Protocol):
    """h11 (uvicorn's pure-Python parser), within the limits."""

    def _awaiting_head(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _body_pending(self) -> bool:
        return self.conn.their_state is h11.SEND_BODY


try:
    import httptools  # noqa: F401
except ImportError:  # pragma: no cover
    LIMITED_PROTOCOL: type[asyncio.Protocol] = LimitedH11Protocol
else:
    LIMITED_PROTOCOL = LimitedHttpToolsProtocol
