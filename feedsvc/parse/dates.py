"""Read the date forms front matter uses, always into an aware UTC datetime."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from zoneinfo import ZoneInfo

from feedsvc.errors import NotADate

EXPECTED = "expected RFC 822, ISO 8601, a date or Unix seconds"

# Dates as people type them: 2022-5-4, 2022/05/04 10:33, 2022.05.04 10:33:00 +08:00.
_LOOSE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?\d{1,12}")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
# RFC 822 as feeds and Hexo exports write it, `Tue, 28 Mar 2023 14:44:00 GMT` (or `+0800`): read
# without email.utils. A four-digit year from 1000 on (email.utils moves 0050 to 2050).
_RFC822 = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{1,2}}) ({'|'.join(_MONTH_NAMES)}) "
    r"([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) (?:GMT|([+-])([0-9]{2})([0-9]{2}))"
)
_MONTH_OR_DAY_NAME = re.compile(r"[A-Za-z]{3}")
_UTC_UNKNOWN_ZONE = re.compile(r"\s-0000$")


def _aware(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Give a naive datetime the site's zone, then express it in UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC)


def _from_epoch(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _zone_of(text: str | None) -> dt.tzinfo | None:
    if not text:
        return None
    if text.upper() == "Z":
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _rfc822(text: str) -> dt.datetime | None:
    """Read the usual RFC 822 date as email.utils reads it; None for any other text, or no such time."""
    match = _RFC822.fullmatch(text)
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    try:
        value = dt.datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=dt.UTC)
        if sign is None:
            return value
        offset = dt.timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        return value.replace(tzinfo=dt.timezone(-offset if sign == "-" else offset)).astimezone(dt.UTC)
    except (ValueError, OverflowError):  # Feb 30, an offset of a day, past 9999: read (and refused) the long way
        return None


def _parse_text(text: str, zone: ZoneInfo) -> dt.datetime:
    rfc822 = _rfc822(text)
    if rfc822 is not None:
        return rfc822
    if _INTEGER.fullmatch(text):
        return _from_epoch(int(text))
    try:
        return _aware(dt.datetime.fromisoformat(text), zone)
    except ValueError:
        pass
    if _MONTH_OR_DAY_NAME.search(text):
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None and _UTC_UNKNOWN_ZONE.search(text):
                # email.utils reads RFC 5322's "-0000" as "no zone"; it means the time is UTC.
                parsed = parsed.replace(tzinfo=dt.UTC)
            return _aware(parsed, zone)
    match = _LOOSE.fullmatch(text)
    if match:
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        value = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=_zone_of(offset),
        )
        return _aware(value, zone)
    raise NotADate(f"{_shown(text)} is not a date ({EXPECTED})")


def parse_date(value: object, zone: ZoneInfo) -> dt.datetime:
    """Read a front matter date; a date without a zone is taken in `zone`.

    Raises:
        NotADate: the value is present but is not a date (text, Feb 30, a list…).
    """
    try:
        result = _read(value, zone)
        # The permalink's {year}… are taken in `zone`: a time at the very edge of the
        # calendar (9999-12-31T23:00Z seen from UTC+8) must exist there too.
        result.astimezone(zone)
    except NotADate:
        raise
    except (ValueError, OverflowError, OSError) as error:
        raise NotADate(f"{_shown(value)} is not a date: {error} ({EXPECTED})") from None
    return result


def _read(value: object, zone: ZoneInfo) -> dt.datetime:
    """Read one date value of any front matter form into UTC."""
    if isinstance(value, dt.datetime):
        return _aware(value, zone)
    if isinstance(value, dt.date):
        return _aware(dt.datetime(value.year, value.month, value.day), zone)
    if isinstance(value, int) and not isinstance(value, bool):
        return _from_epoch(value)
    if isinstance(value, str) and value.strip():
        return _parse_text(value.strip(), zone)
    raise NotADate(f"{_shown(value)} is not a date ({EXPECTED})")


def _shown(value: object) -> str:
    """Show a value in a message, shortened so a huge one cannot flood the log."""
    try:
        text = repr(value) if isinstance(value, str) else f"{type(value).__name__} {value!r}"
    except ValueError:  # an int too long for repr() (over 4,300 digits)
        text = f"{type(value).__name__} too long to show"
    return text if len(text) <= 80 else text[:77] + "…"
