"""The access log: one line a request, on the logger `keygate.access`.

Kept by hand for a measured reason: making a LogRecord for the line and formatting it through
logging and python-json-logger was the largest cost keygate added to a trivial route (README,
Performance). So under the log configuration keygate installs (app/ops/logging.py), the line is
made from its fields by the handler's own formatter (`format_access`, the line format() would
write for the record, byte for byte) and handed to the handler (`write_line`, batched as a
record's line is). Under any other configuration (another handler, such as pytest's caplog; a
filter other than RequestIdFilter; a record factory of its own) the line is logged as an
ordinary record, so every handler gets a real LogRecord. Logging may be configured again at
any time, so the configuration is read for every line: as logging itself does when it hands a
record to its handlers, at a small fraction of the cost of the record."""

import logging
import time

from app.ops.line_batching import LineBatchingHandler
from app.ops.logging import (
    ACCESS_LOGGER,
    ACCESS_MESSAGE,
    AccessEntry,
    ConsoleFormatter,
    JsonLineFormatter,
    RequestIdFilter,
    request_id_var,
)

access_log = logging.getLogger(ACCESS_LOGGER)

Writer = tuple[LineBatchingHandler, JsonLineFormatter | ConsoleFormatter]


def log_access(
    method: str, path: str, status: int, duration_ms: float, user_id: int | None
) -> None:
    if not access_log.isEnabledFor(logging.INFO):  # below its level, or disabled
        return
    writers = line_writers(access_log)
    if writers is None:
        access_log.info(
            ACCESS_MESSAGE,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "user_id": user_id,
            },
        )
        return
    entry = AccessEntry(
        time.time(), method, path, status, duration_ms, user_id, request_id_var.get()
    )
    for handler, formatter in writers:
        handler.write_line(formatter.format_access(entry), logging.INFO)


def line_writers(logger: logging.Logger) -> list[Writer] | None:
    """The handlers an INFO record of `logger` would be handed to, each with its formatter,
    found as Logger.callHandlers finds them (the handlers of the logger and of each parent, up
    to the first logger that does not propagate). None unless the record would be made by
    LogRecord itself, meet no filter on its logger and reach only LineBatchingHandlers with
    one of keygate's formatters and a RequestIdFilter, as keygate configures them; None too
    when it would reach no handler (logging's last resort then decides)."""
    if logger.filters or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    writers: list[Writer] = []
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if handler.level > logging.INFO:
                continue  # as callHandlers skips it
            formatter, filters = handler.formatter, handler.filters
            # Exactly these types: a subclass may format or write a record otherwise.
            if (
                type(handler) is not LineBatchingHandler
                or (
                    type(formatter) is not JsonLineFormatter
                    and type(formatter) is not ConsoleFormatter
                )
                or len(filters) != 1
                or type(filters[0]) is not RequestIdFilter
            ):
                return None
            writers.append((handler, formatter))
        current = current.parent if current.propagate else None
    return writers or None
