"""A clock the tests move by hand: expiry is tested without sleeping."""

import time


class MovableClock:
    def __init__(self) -> None:
        self.offset_seconds = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_seconds

    def advance(self, seconds: float) -> None:
        self.offset_seconds += seconds
