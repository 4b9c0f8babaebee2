"""This machine's bcrypt ceiling: verifications a second on every core, with nothing else.

"Nothing else" is the caller's part: keygate's workers may still be checking the passwords of
logins the load generator gave up on, and those checks share the cores (keygate's bcrypt
threads run at a lower priority, but a server started in a session of its own is scheduled
as a group of its own, beside the benchmark, not below it). Measure only once the server is
idle (`KeygateServer.wait_until_idle`)."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt

PASSWORD = b"raw-bcrypt-password"


def verifies_per_second(seconds: float, rounds: int) -> float:
    """One thread per core, each verifying for `seconds` (bcrypt releases the GIL, as it does
    in keygate's own bcrypt threads). Each thread first makes one verification that is not
    counted (its start-up), then all start together; each thread's rate is its verifications
    over the time they took, so the last one, which ends past the deadline, is counted with
    its own time rather than stretching the others'."""
    password_hash = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds))
    cores = os.cpu_count() or 1
    start = threading.Barrier(cores)

    def rate() -> float:
        bcrypt.checkpw(PASSWORD, password_hash)
        start.wait()
        started = time.perf_counter()
        deadline = started + seconds
        count = 0
        now = started
        while now < deadline:
            bcrypt.checkpw(PASSWORD, password_hash)
            count += 1
            now = time.perf_counter()
        return count / (now - started)

    with ThreadPoolExecutor(cores) as pool:
        return sum(pool.map(lambda _: rate(), range(cores)))
