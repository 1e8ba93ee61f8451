"""dates.parse_date: every front matter date form into aware UTC, and what is not a date."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from feedsvc.parse.dates import EXPECTED, NotADate, parse_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
PLUS_8 = dt.timezone(dt.timedelta(hours=8))


def utc(*args: int) -> dt.datetime:
    """Return an aware UTC datetime."""
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 822 / RFC 2822, as feeds and Hexo exports write them.
        ("Wed, 04 May 2022 10:33:00 GMT", utc(2022, 5, 4, 10, 33)),
        ("Wed, 04 May 2022 10:33:00 UT", utc(2022, 5, 4, 10, 33)),
        ("04 May 2022 10:33:00 GMT", utc(2022, 5, 4, 10, 33)),
        ("Wed, 4 May 2022 10:33 GMT", utc(2022, 5, 4, 10, 33)),
        ("Wed, 04 May 2022 10:33:00 +0800", utc(2022, 5, 4, 2, 33)),
        ("Wed, 04 May 2022 10:33:00 -0500", utc(2022, 5, 4, 15, 33)),
        ("Wed, 04 May 2022 10:33:00 EST", utc(2022, 5, 4, 15, 33)),
        ("Wed, 04 May 2022 10:33:00 -0000", utc(2022, 5, 4, 10, 33)),
        ("Wed, 04 May 2022 10:33:00", utc(2022, 5, 4, 2, 33)),
        # ISO 8601.
        ("2022-05-04T10:33:00Z", utc(2022, 5, 4, 10, 33)),
        ("2022-05-04T10:33:00+08:00", utc(2022, 5, 4, 2, 33)),
        ("2022-05-04T10:33:00-05:30", utc(2022, 5, 4, 16, 3)),
        ("2022-05-04 10:33:00+0800", utc(2022, 5, 4, 2, 33)),
        ("2022-05-04T10:33:00.250Z", utc(2022, 5, 4, 10, 33, 0, 250_000)),
        ("2022-05-04T10:33:00", utc(2022, 5, 4, 2, 33)),
        ("2022-05-04T10:33", utc(2022, 5, 4, 2, 33)),
        ("2022-05-04", utc(2022, 5, 3, 16, 0)),
        ("20220504T103300Z", utc(2022, 5, 4, 10, 33)),
        # Loose forms people type.
        ("2022/5/4", utc(2022, 5, 3, 16, 0)),
        ("2022/05/04 10:33", utc(2022, 5, 4, 2, 33)),
        ("2022-5-4 10:33:00", utc(2022, 5, 4, 2, 33)),
        ("2022.05.04 10:33:00 +08:00", utc(2022, 5, 4, 2, 33)),
        ("2022/05/04 10:33:00 Z", utc(2022, 5, 4, 10, 33)),
        ("  2022-05-04T10:33:00Z  ", utc(2022, 5, 4, 10, 33)),
        # Unix seconds, as a number or as digits.
        (1651660380, utc(2022, 5, 4, 10, 33)),
        ("1651660380", utc(2022, 5, 4, 10, 33)),
        (0, utc(1970, 1, 1)),
        (-86400, utc(1969, 12, 31)),
        # YAML dates and timestamps.
        (dt.date(2022, 5, 4), utc(2022, 5, 3, 16, 0)),
        (dt.datetime(2022, 5, 4, 10, 33), utc(2022, 5, 4, 2, 33)),
        (dt.datetime(2022, 5, 4, 10, 33, tzinfo=PLUS_8), utc(2022, 5, 4, 2, 33)),
        (dt.datetime(2022, 5, 4, 10, 33, tzinfo=dt.UTC), utc(2022, 5, 4, 10, 33)),
    ],
)
def test_dates_are_read_into_utc(value: object, expected: dt.datetime) -> None:
    """Every supported form is read as the moment it names; no zone means the site's zone (here UTC+8)."""
    parsed = parse_date(value, SHANGHAI)
    assert parsed == expected
    assert parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-05-04", utc(2022, 5, 4, 4, 0)),
        (dt.date(2022, 1, 4), utc(2022, 1, 4, 5, 0)),
        ("2022-05-04T10:33:00", utc(2022, 5, 4, 14, 33)),
        ("2022-05-04T10:33:00Z", utc(2022, 5, 4, 10, 33)),
    ],
)
def test_zone_less_dates_follow_the_site_zone_and_its_daylight_saving(value: object, expected: dt.datetime) -> None:
    """A date without a zone is taken in the given zone, daylight saving included; explicit zones ignore it."""
    assert parse_date(value, NEW_YORK) == expected


def test_date_only_is_midnight_in_the_site_zone() -> None:
    """A date without a time is midnight of that day in the site's zone."""
    parsed = parse_date("2022-05-04", SHANGHAI).astimezone(SHANGHAI)
    assert (parsed.date(), parsed.time()) == (dt.date(2022, 5, 4), dt.time(0, 0))


NOT_A_DATE = [
    ("tomorrow", "'tomorrow' is not a date"),
    ("yesterday", "'yesterday' is not a date"),
    ("Feb 30", "'Feb 30' is not a date"),
    ("2022-02-30", "'2022-02-30' is not a date"),
    ("2022/02/30", "'2022/02/30' is not a date"),
    ("Wed, 30 Feb 2022 10:33:00 GMT", "'Wed, 30 Feb 2022 10:33:00 GMT' is not a date"),
    ("2022-13-01", "'2022-13-01' is not a date"),
    ("2022-05-04 25:00", "'2022-05-04 25:00' is not a date"),
    ("2022-05-04T10:33:00+99:00", "'2022-05-04T10:33:00+99:00' is not a date"),
    ("0000-01-01", "'0000-01-01' is not a date"),
    ("2022年5月4日", "'2022年5月4日' is not a date"),
    ("", "'' is not a date"),
    ("   ", "'   ' is not a date"),
    ("1651660380000", "'1651660380000' is not a date"),
    ("999999999999", "'999999999999' is not a date"),
    (True, "bool True is not a date"),
    (False, "bool False is not a date"),
    (1.5, "float 1.5 is not a date"),
    (float("nan"), "float nan is not a date"),
    ([2022, 5, 4], "list [2022, 5, 4] is not a date"),
    ({"year": 2022}, "dict {'year': 2022} is not a date"),
    (10**20, "int 100000000000000000000 is not a date"),
    (-(10**15), "int -1000000000000000 is not a date"),
    (10**5000, "int too long to show is not a date"),
    (b"2022-05-04", "bytes b'2022-05-04' is not a date"),
]


@pytest.mark.parametrize(("value", "shown"), NOT_A_DATE, ids=[shown for _, shown in NOT_A_DATE])
def test_what_is_not_a_date(value: object, shown: str) -> None:
    """Text, impossible days and months, booleans, lists, floats and huge numbers are refused, showing the value."""
    with pytest.raises(NotADate) as caught:
        parse_date(value, SHANGHAI)
    message = str(caught.value)
    assert message.startswith(shown)
    assert message.endswith(f"({EXPECTED})")
    assert re.fullmatch(r".+ is not a date.* \(expected .+\)", message)


def test_not_a_date_is_a_value_error() -> None:
    """NotADate is a ValueError, so code treating bad input as a value error catches it."""
    assert issubclass(NotADate, ValueError)


def test_huge_text_is_shortened_in_the_message() -> None:
    """A very long non-date is cut in the message, so a bad file cannot flood the log."""
    with pytest.raises(NotADate) as caught:
        parse_date("x" * 10_000, SHANGHAI)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("9999-12-31T23:00:00Z", SHANGHAI),
        ("0001-01-01T01:00:00Z", NEW_YORK),
        (dt.date(1, 1, 1), SHANGHAI),
        (-62135596800, NEW_YORK),
    ],
)
def test_moments_outside_the_calendar_of_the_site_zone_are_not_dates(value: object, zone: ZoneInfo) -> None:
    """A moment at the edge of the calendar that does not exist in the site's zone is refused, not a crash later."""
    with pytest.raises(NotADate, match="is not a date"):
        parse_date(value, zone)


def test_edge_of_the_calendar_that_exists_everywhere_is_a_date() -> None:
    """The last day of year 9999, taken in the site zone, is still a date."""
    assert parse_date("9999-12-31", SHANGHAI) == utc(9999, 12, 30, 16, 0)
