"""Time as a dependency, so tests can move it instead of sleeping."""

import time
from collections.abc import Callable

Clock = Callable[[], float]

system_clock: Clock = time.time
