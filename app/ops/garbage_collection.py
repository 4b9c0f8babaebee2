"""The garbage collector, tuned for serving. Each request allocates a few hundred objects; with
Python's default (a young collection every 700 allocations) the objects of the requests waiting
on Redis survive collections, are promoted, and make the older collections walk everything the
app allocated at start-up. In a worker under load that cost more than authentication itself
(README, Performance). While the app serves: what start-up allocated is frozen (never walked
again) and the young generation is collected every 10,000 allocations. Memory still returns
at once for everything freed by reference counting; only cycles wait a little longer."""

import contextlib
import gc
from collections.abc import Iterator
from typing import Final

YOUNG_GENERATION_THRESHOLD: Final = 10_000


@contextlib.contextmanager
def tuned_for_serving() -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
