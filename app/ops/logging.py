"""Logs on standard output, each record with the request id of the request it belongs to:
JSON, one object a line, for machines (production), or one short line a record for a person
at a terminal (development)."""

import json
import logging
import time
from contextvars import ContextVar
from typing import Any, Final, Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

JSON_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
RENAMED: Final = {"asctime": "time", "levelname": "level", "name": "logger"}
CONSOLE_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

LogFormat = Literal["console", "json"]


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def printable(text: str) -> str:
    """A request path as the console shows it: control characters escaped, so that a path
    cannot start a forged line of its own."""
    return json.dumps(text)[1:-1]


class SecondStampFormatter(logging.Formatter):
    """Formats the time as logging.Formatter does, rendering each second's stamp once rather
    than once a record: at a few thousand requests a second, that is the access log's
    costliest field."""

    _stamp: tuple[int, str] = (-1, "")  # (second, its rendering), replaced in one assignment

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None or not self.default_msec_format:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        stamped, text = self._stamp
        if stamped != second:
            text = time.strftime(self.default_time_format, self.converter(second))
            self._stamp = (second, text)
        return self.default_msec_format % (text, record.msecs)


class JsonLineFormatter(SecondStampFormatter, JsonFormatter):
    pass


class ConsoleFormatter(SecondStampFormatter):
    """One line a record. A request reads `2026-11-30 08:01:02.345 GET /users/me 200 3.1ms
    user=7`; anything else `time LEVEL logger: message`."""

    default_msec_format = "%s.%03d"

    def __init__(self) -> None:
        super().__init__(CONSOLE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        method = getattr(record, "method", None)
        if method is None:
            return super().format(record)
        user_id = getattr(record, "user_id", None)
        return (
            f"{self.formatTime(record)} {method} {printable(getattr(record, 'path', ''))}"
            f" {getattr(record, 'status', '-')} {getattr(record, 'duration_ms', '-')}ms"
            f" user={'-' if user_id is None else user_id}"
        )


FORMATTERS: Final[dict[LogFormat, dict[str, Any]]] = {
    "json": {
        "()": JsonLineFormatter,
        "fmt": JSON_FORMAT,
        "rename_fields": RENAMED,
        # uvicorn adds an ANSI-coloured copy of each message; one copy is enough.
        "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
    },
    "console": {"()": ConsoleFormatter},
}


def logging_config(level: str, log_format: LogFormat = "json") -> dict[str, Any]:
    """For logging.config.dictConfig and uvicorn's log_config: keygate's and uvicorn's own
    records alike go to stdout in `log_format`. uvicorn's access log is replaced by keygate's,
    which knows the request id, the duration and the user."""
    handler = {
        "class": "logging.StreamHandler",
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
