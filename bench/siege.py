"""A client that holds what it can of a server: connections left in the middle of a request
head, and one request head of many megabytes sent as fast as the server reads it."""

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

CHUNK: Final = b"a" * (1024 * 1024)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"no host and port in {url}")
    return parts.hostname, parts.port


def _send_huge_header(address: tuple[str, int], size: int) -> None:
    with contextlib.suppress(OSError), socket.create_connection(address) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: siege\r\nX-Filler: ")
        for _ in range(size // len(CHUNK)):
            sock.sendall(CHUNK)


@contextlib.contextmanager
def besieging(url: str, idle_connections: int, header_bytes: int) -> Iterator[None]:
    """While inside: `idle_connections` connections that never finish their head, and one
    header of `header_bytes` being sent."""
    address = _address(url)
    idle: list[socket.socket] = []
    sender = threading.Thread(target=_send_huge_header, args=(address, header_bytes))
    try:
        for _ in range(idle_connections):
            sock = socket.create_connection(address)
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            idle.append(sock)
        sender.start()
        yield
    finally:
        for sock in idle:
            sock.close()
        if sender.is_alive():
            sender.join()
