"""Log lines are written in batches, not one system call a line (README, Performance); what a
reader of the logs relies on stays: every line whole, even with several workers writing to one
pipe, a warning at once, and nothing held back for long."""

import json
import logging
import os
import select
import subprocess
import sys
import time

from app.ops.line_batching import FLUSH_INTERVAL_SECONDS, LineBatchingHandler
from app.ops.logging import JsonLineFormatter

# Each line twice: as a record, and as an access line made without one (app/ops/access_log.py).
WRITER = """
import logging, logging.config, sys
from app.ops.access_log import log_access
from app.ops.logging import logging_config
logging.config.dictConfig(logging_config("INFO", "json"))
log = logging.getLogger("keygate.access")
worker = sys.argv[2]
for n in range(int(sys.argv[1])):
    log.info("request", extra={"worker": worker, "n": n, "path": "/" + "p" * 200})
    log_access("GET", f"/{worker}/{n}/" + "p" * 200, 200, 0.5, None)
"""


def readable(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 65536) if ready else b""


def test_lines_of_two_processes_sharing_one_pipe_never_interleave():
    lines_each = 3000
    read_end, write_end = os.pipe()
    writers = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", WRITER, str(lines_each), name], stdout=write_end
        )
        for name in ("a", "b")
    ]
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read()
    for writer in writers:
        assert writer.wait(timeout=60) == 0

    records = [json.loads(line) for line in output.decode().splitlines()]

    for name in ("a", "b"):
        numbers = [r["n"] for r in records if r.get("worker") == name]
        assert numbers == list(range(lines_each))
        paths = [r["path"].split("/") for r in records if r["path"].startswith(f"/{name}/")]
        assert [int(path[2]) for path in paths] == list(range(lines_each))


def batching_handler(write_end: int) -> logging.Logger:
    handler = LineBatchingHandler(os.fdopen(write_end, "w"))
    handler.setFormatter(JsonLineFormatter())
    log = logging.getLogger(f"test.batching.{write_end}")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log


def test_a_warning_is_written_at_once_with_the_lines_before_it():
    read_end, write_end = os.pipe()
    log = batching_handler(write_end)

    log.info("first")
    log.warning("second")

    written = readable(read_end, timeout=0).decode().splitlines()
    assert [json.loads(line)["message"] for line in written] == ["first", "second"]
    os.close(read_end)


def test_a_line_waits_no_longer_than_the_flush_interval():
    read_end, write_end = os.pipe()
    log = batching_handler(write_end)

    log.info("only")
    started = time.monotonic()
    written = readable(read_end, timeout=10)

    assert json.loads(written)["message"] == "only"
    # A generous bound: the flusher thread may be late by a scheduling slice or two.
    assert time.monotonic() - started < FLUSH_INTERVAL_SECONDS + 1
    os.close(read_end)


SWITCHES = """
import logging, logging.config
from app.ops.logging import logging_config
logging.config.dictConfig(logging_config("INFO", "json"))
record = logging.getLogger("keygate.access").makeRecord("keygate.access", 20, "", 0, "", (), None)
print(logging._srcfile, record.thread, record.process, record.processName)
"""


def test_a_serving_process_skips_the_look_ups_no_format_shows():
    # The serving log configuration turns off, process-wide, logging's look-ups of the
    # caller, thread and process (a process of its own: the switches are process-wide).
    shown = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SWITCHES], capture_output=True, text=True, check=True
    ).stdout.split()

    assert shown == ["None", "None", "None", "None"]
