"""Digest times, quiet hours and time zones: parsing, and when things happen (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.digests.times import (
    DIGEST,
    SILENT,
    Preferences,
    TimeError,
    holds,
    is_quiet,
    next_local,
    next_release,
    parse_range,
    parse_time,
    parse_times,
    quiet_ends,
    silent,
)
from bot.digests.zones import ZoneError, resolve_zone

BERLIN = "Europe/Berlin"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:00", time(8)), ("8:05", time(8, 5)), ("8", time(8)), ("23.59", time(23, 59))],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8:60", "eight", "", "8:5", "-1:00", "１２:00"])
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(TimeError, match="not a time of day"):
        parse_time(text)


def test_parse_times_sorts_and_drops_repeats() -> None:
    assert parse_times("18:00, 08:00 18:00") == (time(8), time(18))
    with pytest.raises(TimeError, match="At most 6"):
        parse_times("1 2 3 4 5 6 7")
    with pytest.raises(TimeError, match="at least one"):
        parse_times("  ")


@pytest.mark.parametrize("text", ["22:00-07:00", "22–7", "22:00 to 07:00", "22:00 07:00"])
def test_parse_range(text: str) -> None:
    assert parse_range(text) == (time(22), time(7))


@pytest.mark.parametrize(
    ("text", "reason"),
    [("22:00", "start and an end"), ("22-22", "different times"), ("22-25", "not a time")],
)
def test_parse_range_refuses(text: str, reason: str) -> None:
    with pytest.raises(TimeError, match=reason):
        parse_range(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin"),
        ("London", "Europe/London"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("Moscow", "Europe/Moscow"),
        ("Madrid", "Europe/Madrid"),
        ("Tokyo", "Asia/Tokyo"),
        ("Munich", "Europe/Berlin"),
        ("utc", "UTC"),
    ],
)
def test_resolve_zone(text: str, name: str) -> None:
    assert resolve_zone(text) == name


@pytest.mark.parametrize("text", ["Atlantis", "", "Europe/Nowhere", "x" * 100, "../../etc/passwd"])
def test_resolve_zone_refuses(text: str) -> None:
    with pytest.raises(ZoneError):
        resolve_zone(text)


def test_digest_at_eight_berlin_across_the_march_change() -> None:
    # Clocks go from 02:00 CET to 03:00 CEST on 29 March 2026: 08:00 moves from 07:00 UTC
    # to 06:00 UTC.
    moments = []
    at = utc(2026, 3, 27, 12)
    for _ in range(4):
        at = next_local((time(8),), BERLIN, at) or at
        moments.append(at)
    assert moments == [
        utc(2026, 3, 28, 7),
        utc(2026, 3, 29, 6),
        utc(2026, 3, 30, 6),
        utc(2026, 3, 31, 6),
    ]


def test_digest_at_eight_berlin_across_the_october_change() -> None:
    # Clocks go back from 03:00 CEST to 02:00 CET on 25 October 2026.
    moments = []
    at = utc(2026, 10, 23, 12)
    for _ in range(3):
        at = next_local((time(8),), BERLIN, at) or at
        moments.append(at)
    assert moments == [utc(2026, 10, 24, 6), utc(2026, 10, 25, 7), utc(2026, 10, 26, 7)]


def test_times_the_clock_change_skips_or_repeats_come_once() -> None:
    # 02:30 does not exist on 29 March in Berlin: it comes as 03:30 CEST, once that day.
    assert next_local((time(2, 30),), BERLIN, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 25 October: the digest comes the first time only.
    first = next_local((time(2, 30),), BERLIN, utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_local((time(2, 30),), BERLIN, first) == utc(2026, 10, 26, 1, 30)


def test_several_times_a_day_come_in_order() -> None:
    times = (time(8), time(18))
    at = utc(2026, 6, 1, 7)  # 09:00 in Berlin
    assert next_local(times, BERLIN, at) == utc(2026, 6, 1, 16)
    assert next_local(times, BERLIN, utc(2026, 6, 1, 16)) == utc(2026, 6, 2, 6)
    assert next_local((), BERLIN, at) is None


def test_quiet_hours_spanning_midnight() -> None:
    prefs = Preferences(quiet=(time(22), time(7)), timezone=BERLIN)  # UTC+1 in January
    assert not is_quiet(prefs, utc(2026, 1, 10, 20, 59))  # 21:59
    assert is_quiet(prefs, utc(2026, 1, 10, 21))  # 22:00
    assert is_quiet(prefs, utc(2026, 1, 10, 23, 30))  # 00:30
    assert is_quiet(prefs, utc(2026, 1, 11, 5, 59))  # 06:59
    assert not is_quiet(prefs, utc(2026, 1, 11, 6))  # 07:00
    assert quiet_ends(prefs, utc(2026, 1, 10, 23, 30)) == utc(2026, 1, 11, 6)
    assert quiet_ends(prefs, utc(2026, 1, 10, 12)) is None
    day = Preferences(quiet=(time(9), time(17)))
    assert is_quiet(day, utc(2026, 1, 10, 12)) and not is_quiet(day, utc(2026, 1, 10, 17))
    assert not is_quiet(Preferences(), utc(2026, 1, 10, 23))


def test_what_holds_and_what_goes_silently() -> None:
    night = utc(2026, 1, 10, 23)
    held = Preferences(quiet=(time(22), time(7)))
    assert holds(held, night) and silent(held, night)
    assert not holds(held, night - timedelta(hours=2))
    hushed = Preferences(quiet=(time(22), time(7)), quiet_mode=SILENT)
    assert not holds(hushed, night) and silent(hushed, night)
    assert holds(Preferences(mode=DIGEST, digest_times=(time(8),)), night - timedelta(hours=10))
    assert not holds(Preferences(), night)


def test_next_release() -> None:
    night = utc(2026, 1, 10, 23)
    digest = Preferences(mode=DIGEST, digest_times=(time(8),))
    assert next_release(digest, night, held=False) == utc(2026, 1, 11, 8)
    quiet = Preferences(quiet=(time(22), time(7)))
    assert next_release(quiet, night, held=True) == utc(2026, 1, 11, 7)
    assert next_release(quiet, night, held=False) is None
    # Held stories of a chat no longer quiet (it changed its settings) go at once.
    assert next_release(Preferences(), night, held=True) == night
