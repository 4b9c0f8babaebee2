"""This machine's bcrypt ceiling: verifications a second on every core, with nothing else."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt

PASSWORD = b"raw-bcrypt-password"


def verifies_per_second(seconds: float, rounds: int) -> float:
    """One thread per core, each verifying until the deadline (bcrypt releases the GIL, as it
    does in keygate's own bcrypt threads)."""
    password_hash = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds))
    cores = os.cpu_count() or 1
    started = time.perf_counter()
    deadline = started + seconds

    def verify_until_deadline() -> int:
        count = 0
        while time.perf_counter() < deadline:
            bcrypt.checkpw(PASSWORD, password_hash)
            count += 1
        return count

    with ThreadPoolExecutor(cores) as pool:
        verified = sum(pool.map(lambda _: verify_until_deadline(), range(cores)))
    return verified / (time.perf_counter() - started)
