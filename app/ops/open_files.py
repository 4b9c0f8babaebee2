"""The open-files limit of `keygate serve`, raised so that HTTP_MAX_CONNECTIONS connections
never run out of descriptors (docs/contract.md §8): a worker out of descriptors stops
accepting for a second at a time, and idle connections would lock real clients out."""

import logging
import resource
from typing import Final

log = logging.getLogger("uvicorn.error")

# What a worker holds besides client connections: its database and Redis pools, listening
# sockets, the supervisor's pipe, log files and Python's own, with room to spare.
DESCRIPTORS_BESIDES_CONNECTIONS: Final = 256


def raise_open_files_limit(max_connections: int) -> int:
    """Raises the soft RLIMIT_NOFILE (inherited by the workers) up to what max_connections
    needs, within the hard limit; returns how many connections fit under it."""
    needed = max_connections + DESCRIPTORS_BESIDES_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return max_connections
    fitting = max(soft - DESCRIPTORS_BESIDES_CONNECTIONS, 1)
    log.warning(
        "the open-files hard limit (%d) holds %d connections per worker, not"
        " HTTP_MAX_CONNECTIONS=%d: connections past %d are closed at once (raise ulimit -Hn)",
        hard,
        fitting,
        max_connections,
        fitting,
    )
    return fitting
