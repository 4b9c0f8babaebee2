"""Loopback ports for the servers a test starts."""

import socket

_HANDED_OUT: set[int] = set()


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, also_free_at: int = 0) -> int:
    """A loopback port that is free now and was not handed out before in this process.

    A server binds its port only once started, so two ports asked for one after another may
    both be the one the kernel offered first; a cluster node also needs its bus port free
    (`also_free_at=10000`)."""
    for _ in range(1000):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        wanted = {port, port + also_free_at}
        if wanted & _HANDED_OUT or max(wanted) > 65535:
            continue
        if also_free_at and not _is_free(port + also_free_at):
            continue
        _HANDED_OUT.update(wanted)
        return port
    raise RuntimeError("no free loopback port")
