"""How log lines look: one line per event, human-readable text or JSON.

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
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

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


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """Escape the characters that would end a line or fake one (`\\n`, `\\r`, `\\t`, `\\xNN`, `\\uNNNN`)."""
    return _UNSAFE.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """The text format: the record's line with outside text escaped, then its traceback, if any, as it is."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        # Inside JSON these characters can only be in strings: their \\u escapes are the same string.
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(data, ensure_ascii=False, default=str))


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
