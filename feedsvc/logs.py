"""How log lines look: one line per event, human-readable text or JSON.

Every logger goes through the root handler set here, the WSGI server's own
(granian's) and the request log included, so `--log-format json` makes every
line of a process JSON. The format reaches server worker processes through
the environment (FEEDSVC_LOG_FORMAT), set by the command line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

FORMAT_VAR = "FEEDSVC_LOG_FORMAT"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has; anything else was passed with `extra=` and belongs in the JSON.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


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
        return json.dumps(data, ensure_ascii=False, default=str)


def formatter(log_format: str) -> logging.Formatter:
    """Return the formatter of a log format name ("text" or "json")."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: int | str = logging.INFO, log_format: str | None = None) -> None:
    """Send every log line to stderr in the given format (default: $FEEDSVC_LOG_FORMAT, else text)."""
    chosen = log_format or os.environ.get(FORMAT_VAR) or "text"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(chosen if chosen in FORMATS else "text"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
