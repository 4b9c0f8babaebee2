"""The garbage collector, tuned for serving. Each request allocates a few hundred objects; with
Python's default (a young collection every 700 allocations) the objects of the requests waiting
on Redis survive collections, are promoted, and make the older collections walk everything the
app allocated at start-up; in a worker under load that cost more than authentication itself
(README, Performance). So once a process starts serving, what start-up allocated is frozen
(never walked again) and the young generation is collected every 10,000 allocations. Memory
still returns at once for everything freed by reference counting; only cycles wait a little
longer.

This is the process's own setting, not an app's: it is applied once, when the process first
starts serving (a serving process serves one app for its whole life), and never undone. A
process that starts apps again and again (the tests) is tuned by the first and left so."""

import gc
import threading
from typing import Final

YOUNG_GENERATION_THRESHOLD: Final = 10_000

_applied = threading.Event()


def tune_for_serving() -> None:
    """Freezes what this process has allocated so far and raises the young generation's
    threshold; the first call in a process does it, later calls do nothing."""
    if _applied.is_set():
        return
    _applied.set()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
