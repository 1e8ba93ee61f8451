"""How log lines look and how they are written: one line per event, human-readable text or JSON.

Every logger goes through the root handler set here, the WSGI server's own
(granian's) and the request log included, so `--log-format json` makes every
line of a process JSON. The format is given by the caller (the command line, or
a server worker from its options: feedsvc.worker); this module reads no environment.

A log line is one line whatever outside text (a file name, a problem, a header)
a message carries: both formats escape every character that would end a line or
fake one (C0 and C1 controls, U+2028 and U+2029, bidirectional overrides). A
traceback, our own text, keeps its lines.

The JSON formatter is our own rather than python-json-logger's: set up to write the
same lines (keys, their order, millisecond UTC times, escapes) it took more time, 1.98
to 2.44 s of CPU for 100,000 records against 1.66 to 1.69 s (benchmarks/json_logs.py).

The request log is written by a `LineWriter`: the request thread only queues a
small tuple, and one writer thread makes the lines and writes them in batches
through the logger's handlers, so that a request never formats or writes a line.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Generic, TypeGuard, TypeVar

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has; anything else was passed with `extra=` and belongs in the JSON.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# What would break a line, or make one look like another: C0 and C1 controls, DEL, the line and paragraph
# separators (str.splitlines() and many log viewers break there), the bidirectional overrides, and the
# lone surrogates of a file name that is not UTF-8 (which could not be written as they are).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# json.dumps escapes C0 controls itself; with ensure_ascii=False it leaves these as they are.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# One encoder for every JSON line, as json.dumps(data, ensure_ascii=False, default=str) would make
# for each: making it again for each line took a third of the line's time.
_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
# A line to log, as a writer thread gets it: when it happened (ns since the epoch), its message,
# and the fields a JSON line carries after the message.
Line = tuple[int, str, dict[str, Any]]


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _msecs(created: float) -> float:
    """The milliseconds of a time, as LogRecord counts them: with its second, int(created), never a second ahead."""
    return int((created - int(created)) * 1000) + 0.0


def escape_controls(text: str) -> str:
    """Escape the characters that would end a line or fake one (`\\n`, `\\r`, `\\t`, `\\xNN`, `\\uNNNN`)."""
    if text.isprintable():  # none of them is printable: most lines are done in half the time of the search
        return text
    return _UNSAFE.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """The text format: the record's line with outside text escaped, then its traceback, if any, as it is."""

    _second: tuple[int, str] = (-1, "")  # the last second formatted, and its text

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The time as Formatter writes it, the seconds' text made once per second (the request log's lines)."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self._time(record.created, record.msecs)

    def _time(self, created: float, msecs: float) -> str:
        second, text = self._second
        if int(created) != second:
            second = int(created)
            text = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, text)  # one assignment: threads formatting at once see one pair or the other
        msec_format = self.default_msec_format
        return msec_format % (text, msecs) if msec_format else text

    def lines(self, lines: list[Line], levelname: str, name: str, terminator: str) -> str:
        """The lines format() writes for records of these values and TEXT_FORMAT, each followed by `terminator`."""
        out = []
        for ns, message, _ in lines:
            created = ns / 1e9
            line = f"{self._time(created, _msecs(created))} {levelname} {name}: {message}"
            out.append((line if line.isprintable() else escape_controls(line)) + terminator)
        return "".join(out)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extra fields, exception."""

    _second: tuple[int, str] = (-1, "")  # the last second written, and its date and time of day

    def format(self, record: logging.LogRecord) -> str:
        extra = {key: value for key, value in record.__dict__.items() if key not in _STANDARD and key[0] != "_"}
        return self.line(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            extra,
            exception=self.formatException(record.exc_info) if record.exc_info else None,
            stack=self.formatStack(record.stack_info) if record.stack_info else None,
        )

    def line(
        self,
        created: float,
        levelname: str,
        name: str,
        message: str,
        extra: dict[str, Any],
        *,
        exception: str | None = None,
        stack: str | None = None,
    ) -> str:
        """The line of a record of these values."""
        data: dict[str, Any] = {
            "time": self._time(created),
            "level": levelname.lower(),
            "logger": name,
            "message": message,
        }
        data.update(extra)
        if exception is not None:
            data["exception"] = exception
        if stack is not None:
            data["stack"] = stack
        # Inside JSON these characters can only be in strings: their \\u escapes are the same string.
        line = _JSON.encode(data)
        if line.isprintable():  # as in escape_controls
            return line
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)

    def _time(self, created: float) -> str:
        """The time as datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds") writes it.

        The date and time of day are made once per second; the microseconds are rounded
        as datetime rounds them (half to even, carried into the second).
        """
        fraction, whole = math.modf(created)
        micro = round(fraction * 1e6)
        second = int(whole)
        if micro >= 1_000_000:
            micro -= 1_000_000
            second += 1
        elif micro < 0:
            micro += 1_000_000
            second -= 1
        cached, text = self._second
        if second != cached:
            text = datetime.fromtimestamp(second, UTC).isoformat()[:19]
            self._second = (second, text)  # one assignment: threads formatting at once see one pair or the other
        return f"{text}.{micro // 1000:03d}+00:00"


def formatter(log_format: str) -> logging.Formatter:
    """Return the formatter of a log format name ("text" or "json")."""
    return JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT)


def configure(level: int | str = logging.INFO, log_format: str = "text") -> None:
    """Send every log line to stderr in the given format ("text" or "json"; any other name is text)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format if log_format in FORMATS else "text"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


Entry = TypeVar("Entry")
# Entries waiting to be written, at most: a little more than half a second of requests at the
# highest rates measured, a few MB. Past it, entries are dropped and counted, never waited for.
QUEUE_CAPACITY = 10_000
# The writer lets entries gather this long after the first one, then writes them in one go.
GATHER_S = 0.05
# At most one warning about dropped lines in this time.
REPORT_EVERY_S = 10.0


def _handlers(logger: logging.Logger) -> Iterator[logging.Handler]:
    """The handlers a record of this logger reaches, in the order Logger.callHandlers calls them."""
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            yield handler
        if not current.propagate:
            break
        current = current.parent
    if not found and logging.lastResort is not None:
        yield logging.lastResort


def _plain_stream(handler: logging.Handler) -> TypeGuard[logging.StreamHandler[Any]]:
    """Tell a plain stream handler (no filter), to which lines are written without records."""
    return type(handler) is logging.StreamHandler and not handler.filters


def _text_format(form: logging.Formatter | None) -> TypeGuard[TextFormatter]:
    """Tell our text format, as `configure` installs it: it writes a line's text, not its fields."""
    return type(form) is TextFormatter and form._fmt == TEXT_FORMAT and form.datefmt is None


def _text(handler: logging.Handler, level: int, name: str, lines: list[Line]) -> str | None:
    """The lines as a plain stream handler with one of our formatters writes them; None for any other handler."""
    if not _plain_stream(handler):
        return None
    form, levelname, end = handler.formatter, logging.getLevelName(level), handler.terminator
    if _text_format(form):
        return form.lines(lines, levelname, name, end)
    if type(form) is JsonFormatter:
        return "".join(form.line(ns / 1e9, levelname, name, message, fields) + end for ns, message, fields in lines)
    return None


def _records(logger: logging.Logger, level: int, lines: list[Line]) -> list[logging.LogRecord]:
    """The records logger.log would make of the lines, stamped with their own time."""
    records = []
    for ns, message, fields in lines:
        record = logger.makeRecord(logger.name, level, __file__, 0, message, (), None, None, fields)
        created = ns / 1e9
        record.relativeCreated -= (record.created - created) * 1000
        record.created = created
        record.msecs = _msecs(created)
        records.append(record)
    return records


def _write(handler: logging.StreamHandler[Any], text: str) -> None:
    """Write text to a stream handler's stream with one write and one flush."""
    handler.acquire()
    try:
        handler.stream.write(text)
        handler.flush()
    except Exception:  # as Handler.emit does: the handler reports it
        handler.handleError(logging.makeLogRecord({"msg": text[:200]}))
    finally:
        handler.release()


def needs_fields(logger: logging.Logger, level: int) -> bool:
    """Tell whether logging a line at `level` reads its fields: only our text format, on plain streams, does not."""
    if not logger.isEnabledFor(level):
        return False
    if logger.filters:
        return True
    return any(
        level >= handler.level and not (_plain_stream(handler) and _text_format(handler.formatter))
        for handler in _handlers(logger)
    )


def write_lines(logger: logging.Logger, level: int, lines: list[Line]) -> None:
    """Log lines as logger.log would, each handler's batch in one write where it is a plain stream handler.

    A plain stream handler with our text or JSON formatter (what `configure`
    installs) gets the lines without records being made, which costs a third of
    the time; any other handler gets records, as from logger.log.
    """
    if not lines or not logger.isEnabledFor(level):
        return
    records = None
    if logger.filters:  # they see records: every handler then gets the records they let through
        records = [record for record in _records(logger, level, lines) if logger.filter(record)]
    for handler in _handlers(logger):
        if level < handler.level:
            continue
        text = None if logger.filters else _text(handler, level, logger.name, lines)
        if text is None:
            if records is None:
                records = _records(logger, level, lines)
            for record in records:
                handler.handle(record)
        elif text:
            _write(handler, text)  # type: ignore[arg-type]  # _text returns text for a StreamHandler only


class LineWriter(Generic[Entry]):
    """Log the lines of queued entries in a thread of its own, in batches, in the order they were added.

    `add` never waits: with QUEUE_CAPACITY entries waiting it drops the entry and
    counts it, and the writer logs one warning per REPORT_EVERY_S naming how many
    were dropped. `stop` writes everything queued before it returns; after it,
    `add` writes its entry in the caller's thread (the process is ending).
    `to_lines(batch, with_fields)` makes a batch's lines, their fields only when
    a handler reads them (see `needs_fields`).
    """

    def __init__(
        self,
        logger: logging.Logger,
        to_lines: Callable[[list[Entry], bool], list[Line]],
        *,
        level: int = logging.INFO,
        capacity: int = QUEUE_CAPACITY,
        gather_s: float = GATHER_S,
        report_every_s: float = REPORT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._to_lines = to_lines
        self._level = level
        self._capacity = capacity
        self._gather_s = gather_s
        self._report_every_s = report_every_s
        self._clock = clock
        # deque.append and popleft are atomic: the request threads and the writer share it without a lock.
        self._queue: collections.deque[Entry] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._reported = 0
        self._next_report = float("-inf")
        # The writer's work, done by one thread at a time (the writer, then `stop` for what came late).
        self._writing = threading.Lock()

    @property
    def dropped(self) -> int:
        """Entries dropped since start because the queue was full."""
        return self._dropped

    def add(self, entry: Entry) -> None:
        """Queue an entry for the writer, or drop and count it when the queue is full; never wait."""
        if len(self._queue) >= self._capacity:
            with self._drop_lock:
                self._dropped += 1
            return
        self._queue.append(entry)
        if self._stopped:  # the writer is gone (the process is ending): write it here
            with self._writing:
                self._write_queued()
        elif not self._wake.is_set():  # the writer waits for a first entry; while it gathers, no call
            self._wake.set()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="feedsvc-log-writer", daemon=True)
        self._thread.start()

    def flush(self) -> None:
        """Write every queued entry now, and report dropped ones if a report is due: one pass of the writer."""
        with self._writing:
            self._write_queued()
            self._report(final=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Write every queued entry and report the drops not yet reported, then stop the writer."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # stuck writing (a stream nobody reads): let the process end
                return
        self._stopped = True
        with self._writing:
            self._write_queued()
            self._report(final=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._until_report())
            self._stopping.wait(self._gather_s)  # let a batch gather; stop cuts it short
            self._wake.clear()  # before taking the batch: an entry added from now on wakes the writer again
            self.flush()

    def _until_report(self) -> float | None:
        """Seconds until dropped entries are due to be reported; None when none are waiting."""
        if self._dropped == self._reported:
            return None
        return max(0.0, self._next_report - self._clock())

    def _write_queued(self) -> None:
        queue = self._queue
        batch = [queue.popleft() for _ in range(len(queue))]
        if not batch:
            return
        try:
            lines = self._to_lines(batch, needs_fields(self._logger, self._level))
            write_lines(self._logger, self._level, lines)
        except Exception:  # a bug in making a line: the writer must live on, or every later line is lost
            logging.getLogger("feedsvc").exception("the log writer could not write %d lines", len(batch))

    def _report(self, *, final: bool) -> None:
        dropped = self._dropped
        if dropped == self._reported or (not final and self._clock() < self._next_report):
            return
        self._logger.warning(
            "lines dropped since the last report: %d (they came faster than they could be written; at most %d wait)",
            dropped - self._reported,
            self._capacity,
        )
        self._reported = dropped
        self._next_report = self._clock() + self._report_every_s
