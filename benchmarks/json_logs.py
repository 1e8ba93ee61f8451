#!/usr/bin/env python3
"""Compare feedsvc's JSON log formatter with python-json-logger set up to write the same lines.

Usage: .venv/bin/python benchmarks/json_logs.py [--records 100000] [--runs 7]

python-json-logger is not a dependency of feedsvc: install it where this script
can import it (`pip install python-json-logger`) to get its rows; without it
they are skipped with a note. Each formatter formats the same records (a third
request-log lines with their nine fields, a third plain messages, a third with
outside text to escape), taking turns, in CPU time. Prints one table, then
whether the two wrote the same lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from feedsvc.runtime.logs import _JSON_UNSAFE, JsonFormatter


def make_records(count: int) -> list[logging.LogRecord]:
    """Return `count` log records of the kinds a serving process writes."""
    records = []
    for number in range(count):
        kind = number % 3
        if kind == 0:
            record = logging.LogRecord(
                "feedsvc.access", logging.INFO, __file__, 1, '%s - - [%s] "%s %s %s" %d %d', (), None
            )
            record.__dict__.update(
                remote="127.0.0.1",
                method="GET",
                path=f"/feeds/c{number % 40}.rss",
                protocol="HTTP/1.1",
                status=304,
                bytes=0,
                referer="-",
                user_agent="NetNewsWire (RSS Reader)",
                duration_ms=0.213,
            )
        elif kind == 1:
            record = logging.LogRecord(
                "feedsvc.refresh", logging.INFO, __file__, 1, "refresh: %d files, %d parsed", (number, 3), None
            )
        else:
            record = logging.LogRecord(
                "feedsvc.refresh",
                logging.WARNING,
                __file__,
                1,
                "%s: date: %r is not a date",
                (f"2024/05/证券{number}\u2028.md", "2022-13-01"),
                None,
            )
        record.created = 1_764_000_000 + number / 1000
        records.append(record)
    return records


def library_formatter() -> logging.Formatter | None:
    """python-json-logger configured for feedsvc's keys, order, times and escapes; None when not installed."""
    try:
        from pythonjsonlogger.json import JsonFormatter as LibraryJsonFormatter
    except ImportError:
        return None

    class Equivalent(LibraryJsonFormatter):  # type: ignore[misc]
        def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
            ordered = {
                "time": log_data.pop("time").isoformat(timespec="milliseconds"),
                "level": log_data.pop("levelname").lower(),
                "logger": log_data.pop("name"),
                "message": log_data.pop("message"),
            }
            exception, stack = log_data.pop("exception", None), log_data.pop("stack", None)
            ordered.update(log_data)
            if exception:
                ordered["exception"] = exception
            if stack:
                ordered["stack"] = stack
            return ordered

        def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
            line: str = super().jsonify_log_record(log_data)
            return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)

    return Equivalent(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"exc_info": "exception", "stack_info": "stack"},
        timestamp="time",
        json_ensure_ascii=False,
        json_default=str,
    )


def cpu_times(
    formatters: dict[str, Callable[[logging.LogRecord], str]], records: Sequence[logging.LogRecord], runs: int
) -> dict[str, list[float]]:
    """Return the CPU seconds each formatter took to format every record, per run, the formatters taking turns.

    CPU time of this process, not wall time, and turns within each run: on a shared machine
    other processes then slow neither formatter more than the other.
    """
    times: dict[str, list[float]] = {name: [] for name in formatters}
    for _ in range(runs):
        for name, format_one in formatters.items():
            started = time.process_time()
            for record in records:
                format_one(record)
            times[name].append(time.process_time() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    records = make_records(args.records)
    ours = JsonFormatter()
    library = library_formatter()
    formatters = {"feedsvc JsonFormatter": ours.format}
    if library is not None:
        formatters["python-json-logger, same lines"] = library.format
    times = cpu_times(formatters, records, args.runs)
    print(f"| formatter ({args.records:,} records, {args.runs} runs) | best s | median s | µs per record (best) |")
    print("| --- | --- | --- | --- |")
    for name, seconds in times.items():
        best = min(seconds)
        print(f"| {name} | {best:.3f} | {statistics.median(seconds):.3f} | {best / args.records * 1e6:.1f} |")
    if library is None:
        print("python-json-logger is not installed: its row is skipped.")
        return
    same = sum(ours.format(record) == library.format(record) for record in records)
    parsed = sum(json.loads(ours.format(r)) == json.loads(library.format(r)) for r in records)
    print(f"identical lines: {same:,} of {len(records):,}; identical objects: {parsed:,} of {len(records):,}")


if __name__ == "__main__":
    main()
