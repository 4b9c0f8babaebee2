"""The connection every authenticated request reads Redis through: one per worker, taken over
from redis-py once it has connected, and read by a protocol that hands each reply to its
caller as it arrives.

Kept by hand for a measured reason (README, Performance: the read connection): through
redis-py's client (a connection pool, a retry wrapper, a timeout context and a stream reader
for every command) a warm bearer request cost a worker measurably more CPU. What redis-py
does well is left to it: the connection is made by the client's own connection class, so the
address, TLS, AUTH, the database and the master a Sentinel names are those of every other
command. The reply parser is hiredis, as redis-py's. Any error, a timeout or a closed connection
fails every read waiting on it and closes it; the next read connects anew."""

import asyncio
import collections
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

RawValue = bytes | str | None  # what a Redis read returns for one key

_INCOMPLETE = object()  # what the reader gives while a reply has not fully arrived


class _Replies(asyncio.Protocol):
    """The taken-over connection: commands written in order, each reply handed to the
    future of the command it answers (Redis answers in order)."""

    def __init__(self, connection: AbstractConnection, transport: asyncio.WriteTransport) -> None:
        # The redis-py connection taken over: it still owns the stream writer (closed by its
        # disconnect), and packs the commands as for every other call.
        self.connection = connection
        self._transport = transport
        # Made inside the worker's loop; held, not looked up per command (a getpid system
        # call on Python 3.11: see ReadBatcher).
        self._loop = asyncio.get_running_loop()
        encoder = connection.encoder
        self._reader = (
            hiredis.Reader(
                notEnoughData=_INCOMPLETE,
                encoding=encoder.encoding,
                errors=encoder.encoding_errors,
            )
            if encoder.decode_responses
            else hiredis.Reader(notEnoughData=_INCOMPLETE)
        )
        self._timeout = connection.socket_timeout
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._closed = False

    @property
    def is_closed(self) -> bool:
        """Closed here, or closing (Redis ended it; connection_lost has not run yet)."""
        return self._closed or self._transport.is_closing()

    def mget(self, keys: Sequence[str]) -> "asyncio.Future[list[RawValue]]":
        return self._send(b"".join(self.connection.pack_command("MGET", *keys)))

    def _send(self, packed: bytes) -> "asyncio.Future[Any]":
        loop = self._loop
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(future)
        self._transport.write(packed)
        if self._timeout is not None:
            timer = loop.call_later(self._timeout, self._time_out, future)
            future.add_done_callback(lambda _: timer.cancel())
        return future

    def data_received(self, data: bytes) -> None:
        try:
            self._reader.feed(data)
            while (reply := self._reader.gets()) is not _INCOMPLETE:
                future = self._waiting.popleft()
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(ResponseError(str(reply)))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError):  # garbage, or a reply nobody asked for
            self.close(RedisConnectionError("Redis sent a reply that could not be read"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(RedisConnectionError("Redis closed the connection"))

    def _time_out(self, future: "asyncio.Future[Any]") -> None:
        if not future.done():
            self.close(RedisTimeoutError("Redis did not answer in time"))

    def close(self, error: Exception | None = None) -> None:
        """Closes the connection; every read still waiting fails with `error`."""
        self._closed = True
        self._transport.abort()
        error = error or RedisConnectionError("the connection was closed")
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


class ReadConnection:
    def __init__(self) -> None:
        self._replies: _Replies | None = None
        self._connecting = asyncio.Lock()

    async def mget(self, redis: Redis, keys: Sequence[str]) -> list[RawValue]:
        """The values of `keys`, read on this connection (connected first through `redis`'s
        own connection class when it is not). Raises what redis-py would: RedisError."""
        replies = self._replies
        if replies is None or replies.is_closed:
            replies = await self._connect(redis)
        return await replies.mget(keys)

    async def _connect(self, redis: Redis) -> _Replies:
        async with self._connecting:
            if self._replies is not None and not self._replies.is_closed:
                return self._replies  # another read connected it meanwhile
            await self.close()  # a connection that failed
            pool = redis.connection_pool
            connection: AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                # redis-py's handshake: TLS, AUTH, SELECT, HELLO.
                await connection.connect()  # type: ignore[no-untyped-call]
            except BaseException:
                await connection.disconnect(nowait=True)
                raise
            # The stream writer redis-py made, private to redis.asyncio.connection (pinned by
            # uv.lock): its transport is what is taken over.
            writer = connection._writer
            if writer is None:
                raise RedisConnectionError("redis-py connected without a stream")
            transport = writer.transport
            replies = _Replies(connection, transport)
            transport.set_protocol(replies)
            self._replies = replies
            return replies

    async def close(self) -> None:
        """Closes the connection (reads waiting on it fail); the next read connects anew."""
        replies, self._replies = self._replies, None
        if replies is not None:
            replies.close()
            await replies.connection.disconnect(nowait=True)
