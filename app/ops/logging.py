"""Logs on standard output, each record with the request id of the request it belongs to:
JSON, one object a line, for machines (production; python-json-logger), or one short line a
record for a person at a terminal (development). Lines are written in batches
(app/ops/line_batching.py)."""

import json
import logging
from contextvars import ContextVar
from typing import Any, Final, Literal, TextIO

from pythonjsonlogger import core
from pythonjsonlogger.json import JsonFormatter

from app.ops.line_batching import LineBatchingHandler

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

CONSOLE_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

LogFormat = Literal["console", "json"]

# What a JSON line leaves out: LogRecord's own attributes (the fields above carry what is
# shown of them) and uvicorn's ANSI-coloured copy of its message (one copy is enough).
RESERVED_ATTRS: Final = [*core.RESERVED_ATTRS, "taskName", "color_message"]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def printable(text: str) -> str:
    """A request path as the console shows it: control characters escaped, so that a path
    cannot start a forged line of its own. A plain ASCII path (nearly every one) is already
    what json.dumps would make of it."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return json.dumps(text)[1:-1]


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter: `time` (ISO 8601 in UTC, with its offset), `level`,
    `logger`, `message`, every extra field of the record (`request_id` among them) and, with
    an exception, its traceback as `exc_info`."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=RESERVED_ATTRS,
            timestamp="time",
        )


class ConsoleFormatter(logging.Formatter):
    """One line a record. A request reads `2026-11-30 08:01:02.345 GET /users/me 200 3.1ms
    user=7`; anything else `time LEVEL logger: message`."""

    default_msec_format = "%s.%03d"

    def __init__(self) -> None:
        super().__init__(CONSOLE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # Only an access record has a status: an error logged with the request's method and
        # path keeps its message and traceback.
        status = getattr(record, "status", None)
        if status is None:
            return super().format(record)
        user_id = getattr(record, "user_id", None)
        return (
            f"{self.formatTime(record)} {getattr(record, 'method', '-')}"
            f" {printable(getattr(record, 'path', ''))} {status}"
            f" {getattr(record, 'duration_ms', '-')}ms user={'-' if user_id is None else user_id}"
        )


FORMATTERS: Final[dict[LogFormat, dict[str, Any]]] = {
    "json": {"()": JsonLineFormatter},
    "console": {"()": ConsoleFormatter},
}


def skip_unshown_lookups() -> None:
    """Turns off, for this process, what logging looks up for every record and no keygate
    format shows: the caller's file and line (a walk up the stack), the thread, the process and
    its multiprocessing name. These are logging's documented switches; the look-ups were most
    of the cost of making an access record."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None


def serving_handler(stream: TextIO) -> LineBatchingHandler:
    """The handler of a serving process's logs. Its configuration runs once in every process
    that serves (uvicorn applies the log configuration in the server and in each worker), so
    the process-wide switches of skip_unshown_lookups are set here, where such a process
    starts."""
    skip_unshown_lookups()
    return LineBatchingHandler(stream)


def logging_config(level: str, log_format: LogFormat = "json") -> dict[str, Any]:
    """For logging.config.dictConfig and uvicorn's log_config: keygate's and uvicorn's own
    records alike go to stdout in `log_format`. uvicorn's access log is replaced by keygate's,
    which knows the request id, the duration and the user."""
    handler = {
        "()": serving_handler,
        "stream": "ext://sys.stdout",
        "formatter": log_format,
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {log_format: FORMATTERS[log_format]},
        "handlers": {"stdout": handler},
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
