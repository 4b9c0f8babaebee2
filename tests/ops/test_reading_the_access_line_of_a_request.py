"""Under keygate's own log configuration a request's access line is made without a LogRecord
(app/ops/access_log.py). A reader of the logs sees the line the record would have made, byte
for byte, in JSON and at a terminal. Under anyone else's configuration the line is an ordinary
record, so their handlers, formatters and filters see it."""

import io
import json
import logging
import os
import select
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

from app.ops.access_log import access_log, line_writers, log_access
from app.ops.line_batching import FLUSH_INTERVAL_SECONDS, LineBatchingHandler
from app.ops.logging import ConsoleFormatter, JsonLineFormatter, RequestIdFilter, request_id_var

FORMATTERS: dict[str, Callable[[], logging.Formatter]] = {
    "json": JsonLineFormatter,
    "console": ConsoleFormatter,
}


class Fields(NamedTuple):
    method: str
    path: str
    status: int
    duration_ms: float
    user_id: Any
    request_id: str | None


FIELDS = {
    "plain": Fields("GET", "/health", 200, 0.12, None, "0123456789abcdef0123456789abcdef"),
    "awkward path, no request id": Fields(
        "POST", '/a"b\\c\nd\t\x00\x7f é☃\u2028\U0001f600', 404, 1234.5, 7, None
    ),
    "user 0, a whole duration": Fields("DELETE", "/users/me", 500, 0.0, 0, "req-7f.edge_01:42"),
    "a user id that is text": Fields("GET", "/x", 200, 0.5, "7", "r"),
    "a status that is a bool": Fields("GET", "/x", True, 0.5, 7, "r"),
    "an infinite duration": Fields("GET", "/x", 200, float("inf"), 7, "r"),
}
MOMENTS = {
    "ordinary": 1_796_532_417.234567,
    "a whole second": 1_796_532_417.0,
    "microseconds rounding to none": 1_796_532_417.0000004,
    "microseconds rounding into the next second": 1_796_532_417.9999996,
    "the last millisecond of a second": 1_796_532_417.9995,
    "half a microsecond, rounded down to even": 1_796_532_417.0078125,
    "half a microsecond, rounded up to even": 1_796_532_417.0234375,
    "before 1970": -0.5,
}


@pytest.fixture
def root(monkeypatch) -> Iterator[logging.Logger]:
    """A root logger of the test's own for keygate.access, which logs at INFO: it holds the
    handlers a test gives it, as the root logger holds keygate's. pytest adds its capturing
    handlers to the registered loggers only, so not to this one."""
    own_root = logging.Logger("test-root")
    own_root.propagate = False
    monkeypatch.setattr(access_log, "parent", own_root)
    monkeypatch.setattr(access_log, "handlers", [])
    monkeypatch.setattr(access_log, "filters", [])
    monkeypatch.setattr(access_log, "disabled", False)
    level, factory = access_log.level, logging.getLogRecordFactory()
    access_log.setLevel(logging.INFO)
    yield own_root
    access_log.setLevel(level)
    logging.setLogRecordFactory(factory)


def keygate_handler(log_format: str) -> tuple[LineBatchingHandler, io.StringIO]:
    """A handler as keygate's log configuration makes it, writing to a string."""
    stream = io.StringIO()
    return with_keygates_formatter(LineBatchingHandler(stream), log_format), stream


def with_keygates_formatter(handler: LineBatchingHandler, log_format: str) -> LineBatchingHandler:
    handler.setFormatter(FORMATTERS[log_format]())
    handler.addFilter(RequestIdFilter())
    return handler


def log_request(fields: Fields) -> None:
    token = request_id_var.set(fields.request_id)
    try:
        log_access(fields.method, fields.path, fields.status, fields.duration_ms, fields.user_id)
    finally:
        request_id_var.reset(token)


def log_record(fields: Fields) -> None:
    """The access line as an ordinary record, the way it was written before."""
    token = request_id_var.set(fields.request_id)
    try:
        access_log.info(
            "request",
            extra={
                "method": fields.method,
                "path": fields.path,
                "status": fields.status,
                "duration_ms": fields.duration_ms,
                "user_id": fields.user_id,
            },
        )
    finally:
        request_id_var.reset(token)


def written(handler: LineBatchingHandler, stream: io.StringIO) -> list[str]:
    handler.flush()
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("log_format", FORMATTERS)
@pytest.mark.parametrize("fields", FIELDS.values(), ids=FIELDS)
@pytest.mark.parametrize("moment", MOMENTS.values(), ids=MOMENTS)
def test_the_access_line_is_the_line_its_record_would_make(
    root, monkeypatch, log_format, fields, moment
):
    handler, stream = keygate_handler(log_format)
    root.addHandler(handler)
    assert line_writers(access_log) == [(handler, handler.formatter)]
    # The clock both LogRecord and the access log read.
    monkeypatch.setattr(time, "time", lambda: moment)

    log_record(fields)
    log_request(fields)

    by_record, by_hand = written(handler, stream)
    assert by_hand == by_record


# One after another, as a busy worker writes them: within one millisecond, across the edge of
# a millisecond and of a second, and a clock set back.
SUCCESSIVE_MOMENTS = [
    1_796_532_417.2340001,
    1_796_532_417.2343,
    1_796_532_417.2349997,
    1_796_532_417.235,
    1_796_532_417.2350002,
    1_796_532_417.9994,
    1_796_532_417.9999998,
    1_796_532_418.0,
    1_796_532_418.0009,
    1_796_532_417.2345,
    0.0005,
    -0.0005,
]


@pytest.mark.parametrize("log_format", FORMATTERS)
def test_successive_lines_each_show_their_own_moment(root, monkeypatch, log_format):
    handler, stream = keygate_handler(log_format)
    root.addHandler(handler)
    moments = iter([moment for moment in SUCCESSIVE_MOMENTS for _ in range(2)])
    monkeypatch.setattr(time, "time", lambda: next(moments))

    for _ in SUCCESSIVE_MOMENTS:
        log_record(FIELDS["plain"])
        log_request(FIELDS["plain"])

    lines = written(handler, stream)
    assert len(lines) == 2 * len(SUCCESSIVE_MOMENTS)
    assert lines[1::2] == lines[0::2]


def test_a_formatter_set_while_serving_writes_the_next_line(root):
    handler, stream = keygate_handler("console")
    root.addHandler(handler)

    log_request(FIELDS["plain"])
    handler.setFormatter(JsonLineFormatter())
    log_request(FIELDS["plain"])

    console, json_line = written(handler, stream)
    assert console.endswith(" GET /health 200 0.12ms user=-")
    assert json_line.startswith('{"level": "INFO", "logger": "keygate.access"')


def test_a_console_converter_set_while_serving_applies_to_the_next_line(root, monkeypatch):
    handler, stream = keygate_handler("console")
    root.addHandler(handler)
    monkeypatch.setattr(time, "time", lambda: MOMENTS["ordinary"])
    log_request(FIELDS["plain"])

    # logging's documented way to show other times, here two hours ahead of UTC.
    handler.formatter.converter = lambda seconds: time.gmtime(seconds + 7200)  # type: ignore[union-attr]
    log_record(FIELDS["plain"])
    log_request(FIELDS["plain"])

    _, by_record, by_hand = written(handler, stream)
    assert by_record.startswith("2026-12-06 06:46:57.234 ")
    assert by_hand == by_record


def test_a_warning_writes_the_access_lines_before_it_at_once(root):
    handler, stream = keygate_handler("json")
    root.addHandler(handler)

    log_request(FIELDS["plain"])
    access_log.warning("slow")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("INFO", "request"),
        ("WARNING", "slow"),
    ]


def test_an_access_line_waits_no_longer_than_the_flush_interval(root):
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb", buffering=0) as pipe, os.fdopen(write_end, "w") as stream:
        root.addHandler(with_keygates_formatter(LineBatchingHandler(stream), "json"))

        log_request(FIELDS["plain"])
        started = time.monotonic()
        ready, _, _ = select.select([pipe], [], [], 10)

        assert ready
        assert json.loads(pipe.read(65536))["path"] == "/health"
        # A generous bound: the flusher thread may be late by a scheduling slice or two.
        assert time.monotonic() - started < FLUSH_INTERVAL_SECONDS + 1


class Seen:
    """The records a witness of someone else's configuration saw."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    def saw(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return True


class SeeingHandler(logging.Handler):
    def __init__(self, seen: Seen) -> None:
        super().__init__()
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.saw(record)


def seeing_formatter(base: type[logging.Formatter], seen: Seen) -> logging.Formatter:
    class Seeing(base):  # type: ignore[valid-type,misc]
        def format(self, record: logging.LogRecord) -> str:
            seen.saw(record)
            return str(super().format(record))

    return Seeing()


def another_handler_beside_it(handler, seen):
    access_log.addHandler(SeeingHandler(seen))


def a_filter_on_the_handler(handler, seen):
    handler.addFilter(seen.saw)


def a_filter_on_the_logger(handler, seen):
    access_log.addFilter(seen.saw)


def a_formatter_of_its_own(handler, seen):
    handler.setFormatter(seeing_formatter(logging.Formatter, seen))


def a_subclass_of_keygates_formatter(handler, seen):
    handler.setFormatter(seeing_formatter(JsonLineFormatter, seen))


def a_record_factory(handler, seen):
    factory = logging.getLogRecordFactory()

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        seen.saw(record)
        return record

    logging.setLogRecordFactory(make)


CONFIGURATIONS = [
    another_handler_beside_it,
    a_filter_on_the_handler,
    a_filter_on_the_logger,
    a_formatter_of_its_own,
    a_subclass_of_keygates_formatter,
    a_record_factory,
]


@pytest.mark.parametrize("configure", CONFIGURATIONS, ids=lambda c: c.__name__)
def test_under_another_configuration_the_access_line_is_a_record(root, configure):
    handler, stream = keygate_handler("json")
    root.addHandler(handler)
    seen = Seen()
    configure(handler, seen)

    log_request(FIELDS["plain"])

    (record,) = seen.records
    assert (record.name, record.getMessage()) == ("keygate.access", "request")
    assert (record.method, record.path, record.status) == ("GET", "/health", 200)
    assert (record.duration_ms, record.user_id) == (0.12, None)
    assert len(written(handler, stream)) == 1


async def test_pytests_caplog_sees_each_request_as_a_record(client, caplog):
    caplog.set_level(logging.INFO, logger="keygate.access")

    await client.get("/health")

    (record,) = [r for r in caplog.records if r.name == "keygate.access"]
    assert (record.method, record.path, record.status) == ("GET", "/health", 200)


def switched_off_logger(handler):
    access_log.disabled = True


def logger_above_info(handler):
    access_log.setLevel(logging.WARNING)


def handler_above_info(handler):
    handler.setLevel(logging.WARNING)


@pytest.mark.parametrize(
    "switch_off",
    [switched_off_logger, logger_above_info, handler_above_info],
    ids=lambda s: s.__name__,
)
def test_an_access_log_switched_off_writes_nothing(root, switch_off):
    handler, stream = keygate_handler("json")
    root.addHandler(handler)
    switch_off(handler)

    log_request(FIELDS["plain"])

    assert written(handler, stream) == []
