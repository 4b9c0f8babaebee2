"""The handler of keygate's logs: lines written in batches (LineBatchingHandler), each live
handler flushed now and then by one thread."""

import logging
import threading
import time
import weakref
from typing import Final, TextIO

# The most a batch writes at once: writes of up to PIPE_BUF bytes to a pipe are atomic, so
# the lines of two workers sharing one stdout never interleave mid-line.
BATCH_BYTES: Final = 4096
FLUSH_INTERVAL_SECONDS: Final = 0.2


class LineBatchingHandler(logging.StreamHandler[TextIO]):
    """Writes lines in batches rather than one write (a system call) a line. Kept by hand for
    a measured reason: logging's StreamHandler writes and flushes every line, and that write
    was the access log's largest cost (README, Performance). The guarantee that the lines of
    two workers sharing one stdout never interleave holds either way (a batch, like a single
    line, is one write of whole lines of at most PIPE_BUF bytes); it does not need this class.
    A line waits at most FLUSH_INTERVAL_SECONDS; a WARNING or worse is written at once, with
    every line before it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._lines: list[str] = []
        self._size = 0
        _flusher.add(self)

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            line = self.format(record)
        except Exception:  # as logging.StreamHandler does: reported, never raised at the caller
            self.handleError(record)
            return
        self._add(line, record.levelno)

    def write_line(self, line: str, levelno: int) -> None:
        """Writes a line already formatted, of a record of level `levelno`, as emit writes
        a record's."""
        # Handler.__init__ makes the lock (typed optional, for subclasses that do without).
        with self.lock:  # type: ignore[union-attr]
            self._add(line, levelno)

    def _add(self, line: str, levelno: int) -> None:  # called with self.lock held
        line += self.terminator
        if self._size + len(line) > BATCH_BYTES:
            self._write()
        self._lines.append(line)
        self._size += len(line)
        if levelno >= logging.WARNING:
            self._write()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines.clear()
        self._size = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: nothing left to tell
            pass


class _Flusher:
    """One daemon thread that flushes every live LineBatchingHandler now and then."""

    def __init__(self) -> None:
        self._handlers: weakref.WeakSet[LineBatchingHandler] = weakref.WeakSet()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def add(self, handler: LineBatchingHandler) -> None:
        with self._guard:
            self._handlers.add(handler)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="keygate-log-flusher", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_SECONDS)
            for handler in list(self._handlers):
                handler.flush()


_flusher = _Flusher()
