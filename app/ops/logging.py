"""Logs on standard output, each record with the request id of the request it belongs to:
JSON, one object a line, for machines (production; python-json-logger), or one short line a
record for a person at a terminal (development). Lines are written in batches
(app/ops/line_batching.py). Each formatter also writes a request's access line from its
fields (format_access): the line the access record would make, without the record, for the
reason given in app/ops/access_log.py."""

import json
import logging
import math
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, Final, Literal, NamedTuple, TextIO

from pythonjsonlogger import core
from pythonjsonlogger.json import JsonFormatter

from app.ops.line_batching import LineBatchingHandler

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

CONSOLE_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

LogFormat = Literal["console", "json"]

ACCESS_LOGGER: Final = "keygate.access"
ACCESS_MESSAGE: Final = "request"

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


class AccessEntry(NamedTuple):
    """What one request's access line shows: the fields its record carries, `created` as
    LogRecord's (seconds since the epoch)."""

    created: float
    method: str
    path: str
    status: int
    duration_ms: float
    user_id: int | None
    request_id: str | None


# The start of every JSON access line: its record's level, logger and message.
_JSON_ACCESS_START: Final = (
    f'{{"level": "INFO", "logger": {json.dumps(ACCESS_LOGGER)},'
    f' "message": {json.dumps(ACCESS_MESSAGE)}'
)


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter: `time` (ISO 8601 in UTC, with its offset), `level`,
    `logger`, `message`, every extra field of the record (`request_id` among them) and, with
    an exception, its traceback as `exc_info`."""

    # (second, its ISO 8601 text without the offset), replaced in one assignment.
    _stamp: tuple[int | None, str] = (None, "")

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            reserved_attrs=RESERVED_ATTRS,
            timestamp="time",
        )

    def format_access(self, entry: AccessEntry) -> str:
        """The line format() writes for the access record of `entry`, made without the record
        or the library's general serializer: the keys in the order the record holds them (its
        extra fields, then the request id its filter adds, then the time), each value as json
        writes it."""
        _, method, path, status, duration_ms, user_id, request_id = entry
        if not (
            type(status) is int
            and type(duration_ms) is float
            and math.isfinite(duration_ms)  # json writes NaN and Infinity, repr nan and inf
            and (user_id is None or type(user_id) is int)
        ):  # not what a request's line holds: written by the library's serializer
            return self.serialize_log_record(self._access_fields(entry))
        request_id_json = "null" if request_id is None else encode_basestring_ascii(request_id)
        return (
            f"{_JSON_ACCESS_START}, "
            f'"method": {encode_basestring_ascii(method)}, '
            f'"path": {encode_basestring_ascii(path)}, '
            f'"status": {status}, "duration_ms": {duration_ms!r}, '
            f'"user_id": {"null" if user_id is None else user_id}, '
            f'"request_id": {request_id_json}, '
            f'"time": "{self._time_text(entry.created)}"}}'
        )

    def _access_fields(self, entry: AccessEntry) -> dict[str, Any]:
        return {
            "level": "INFO",
            "logger": ACCESS_LOGGER,
            "message": ACCESS_MESSAGE,
            "method": entry.method,
            "path": entry.path,
            "status": entry.status,
            "duration_ms": entry.duration_ms,
            "user_id": entry.user_id,
            "request_id": entry.request_id,
            "time": datetime.fromtimestamp(entry.created, tz=UTC),
        }

    def _time_text(self, created: float) -> str:
        """datetime.fromtimestamp(created, UTC).isoformat(), the library's `time`, with each
        second's text made once. The microseconds are rounded as datetime rounds them (half to
        even), a whole second carried into the seconds."""
        fraction, whole = math.modf(created)
        micros = round(fraction * 1e6)
        if micros >= 1_000_000:
            whole, micros = whole + 1, micros - 1_000_000
        elif micros < 0:
            whole, micros = whole - 1, micros + 1_000_000
        second = int(whole)
        stamped, stamp = self._stamp
        if stamped != second:
            stamp = datetime.fromtimestamp(second, tz=UTC).isoformat()[: -len("+00:00")]
            self._stamp = (second, stamp)
        return f"{stamp}.{micros:06d}+00:00" if micros else f"{stamp}+00:00"


class ConsoleFormatter(logging.Formatter):
    """One line a record. A request reads `2026-11-30 08:01:02.345 GET /users/me 200 3.1ms
    user=7`; anything else `time LEVEL logger: message`."""

    default_msec_format = "%s.%03d"
    # (start, end, converter, text): the text of every moment from start until before end,
    # all within one millisecond, replaced in one assignment.
    _millisecond: tuple[float, float, object, str] = (0.0, 0.0, None, "")

    def __init__(self) -> None:
        super().__init__(CONSOLE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # Only an access record has a status: an error logged with the request's method and
        # path keeps its message and traceback.
        status = getattr(record, "status", None)
        if status is None:
            return super().format(record)
        return _console_access_line(
            self.formatTime(record),
            getattr(record, "method", "-"),
            getattr(record, "path", ""),
            status,
            getattr(record, "duration_ms", "-"),
            getattr(record, "user_id", None),
        )

    def format_access(self, entry: AccessEntry) -> str:
        """The line format() writes for the access record of `entry`, made without the
        record."""
        return _console_access_line(
            self._time_text(entry.created),
            entry.method,
            entry.path,
            entry.status,
            entry.duration_ms,
            entry.user_id,
        )

    def _time_text(self, created: float) -> str:
        """What formatTime writes for a record made at `created` (its msecs as LogRecord
        computes them), each millisecond's text made once: a busy worker writes many lines a
        millisecond."""
        start, end, converter, text = self._millisecond
        if start <= created < end and converter is self.converter:
            return text
        second = math.floor(created)  # the second that converter(created) shows
        stamp = time.strftime(self.default_time_format, self.converter(second))
        # LogRecord's msecs is a float; %d writes an int the same.
        msecs = int((created - int(created)) * 1000)
        text = self.default_msec_format % (stamp, msecs)
        if created >= 0:
            # Every later moment of this millisecond has the same second and msecs; the end is
            # kept a microsecond short of the next millisecond, far more than the rounding of
            # these sums, so no moment of the next one is taken for this one.
            end = second + (msecs + 1) / 1000 - 1e-6
            self._millisecond = (created, end, self.converter, text)
        return text


def _console_access_line(
    time_text: str, method: str, path: str, status: object, duration_ms: object, user_id: object
) -> str:
    return (
        f"{time_text} {method} {printable(path)} {status}"
        f" {duration_ms}ms user={'-' if user_id is None else user_id}"
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
