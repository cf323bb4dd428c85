"""Digest times and quiet hours: parsing what chats type, and when things happen.

Times are wall-clock times in the chat's zone; every instant computed here is an aware UTC
datetime, found again from the local time each day, so a digest at 08:00 stays at 08:00
across daylight-saving changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from bot.digests.zones import zone
from bot.i18n import N_, Explained

INSTANT = "instant"
DIGEST = "digest"
HOLD = "hold"  # alerts in quiet hours wait and arrive as one digest when they end
SILENT = "silent"  # alerts in quiet hours are sent without a notification
MAX_DIGEST_TIMES = 6
DEFAULT_DIGEST_TIME = time(8, 0)

_TIME = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?$", re.ASCII)
_RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|to|\s)\s*")


class TimeError(Explained):
    """Something typed that is not a time, a list of times or a range; the message says why."""


@dataclass(frozen=True, slots=True)
class Preferences:
    """How and when news reaches one chat; the defaults are instant alerts, UTC, previews on."""

    mode: str = INSTANT
    digest_times: tuple[time, ...] = ()
    quiet: tuple[time, time] | None = None
    quiet_mode: str = HOLD
    timezone: str = "UTC"
    previews: bool = True

    def with_digest(self, times: tuple[time, ...]) -> Preferences:
        """Return these preferences in digest mode at `times` (the current ones if empty)."""
        chosen = times or self.digest_times or (DEFAULT_DIGEST_TIME,)
        return replace(self, mode=DIGEST, digest_times=tuple(sorted(set(chosen))))


# --- parsing ----------------------------------------------------------------------------------


def parse_time(text: str) -> time:
    """Return the time of day in 'HH:MM' (or 'H', 'H:MM', 'HH.MM'), 00:00 to 23:59."""
    raw = text.strip()
    match = _TIME.match(raw)
    if match is None:
        raise TimeError(N_("“{text}” is not a time of day: use HH:MM, e.g. 08:00."), text=raw[:20])
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise TimeError(
            N_("“{text}” is not a time of day: hours go 0-23, minutes 0-59."), text=raw[:20]
        )
    return time(hour, minute)


def parse_times(text: str) -> tuple[time, ...]:
    """Return the distinct times in a list like '08:00 18:00' or '8:00, 18:00', sorted."""
    parts = [p for p in re.split(r"[\s,;]+", text.strip()) if p]
    if not parts:
        raise TimeError(N_("Tell me at least one time, e.g. 08:00."))
    times = tuple(sorted({parse_time(p) for p in parts}))
    if len(times) > MAX_DIGEST_TIMES:
        raise TimeError(N_("At most {count} digest times a day, please."), count=MAX_DIGEST_TIMES)
    return times


def parse_range(text: str) -> tuple[time, time]:
    """Return (start, end) of a range like '22:00-07:00'; it may span midnight."""
    parts = [p for p in _RANGE_SPLIT.split(text.strip()) if p]
    if len(parts) != 2:
        raise TimeError(N_("Give quiet hours as a start and an end, e.g. 22:00-07:00."))
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if start == end:
        raise TimeError(N_("Quiet hours must start and end at different times."))
    return start, end


def format_time(value: time) -> str:
    """Return 'HH:MM'."""
    return f"{value.hour:02d}:{value.minute:02d}"


def format_times(values: tuple[time, ...]) -> str:
    """Return '08:00, 18:00'."""
    return ", ".join(format_time(v) for v in values)


# --- when things happen -----------------------------------------------------------------------


def next_local(times: tuple[time, ...], zone_name: str, after: datetime) -> datetime | None:
    """Return the first instant strictly after `after` whose local time is one of `times`.

    A time a spring change skips (02:30 when clocks jump from 02:00 to 03:00) comes as the
    same moment an hour later by the clock; a time an autumn change repeats comes once, the
    first time.
    """
    if not times:
        return None
    tz = zone(zone_name)
    local_day = after.astimezone(tz).date()
    best: datetime | None = None
    for offset in range(-1, 3):
        day = local_day + timedelta(days=offset)
        for t in times:
            moment = datetime.combine(day, t, tzinfo=tz).astimezone(UTC)
            if moment > after and (best is None or moment < best):
                best = moment
    return best


def is_quiet(prefs: Preferences, now: datetime) -> bool:
    """Return True while the chat's quiet hours are on (start inclusive, end exclusive)."""
    if prefs.quiet is None:
        return False
    start, end = prefs.quiet
    local = now.astimezone(zone(prefs.timezone)).time().replace(second=0, microsecond=0)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_ends(prefs: Preferences, now: datetime) -> datetime | None:
    """Return when the quiet hours that are on at `now` end (None when they are off)."""
    if prefs.quiet is None or not is_quiet(prefs, now):
        return None
    return next_local((prefs.quiet[1],), prefs.timezone, now)


def holds(prefs: Preferences, now: datetime) -> bool:
    """Return True when an alert matched now waits for a digest instead of going at once."""
    if prefs.mode == DIGEST:
        return True
    return prefs.quiet_mode == HOLD and is_quiet(prefs, now)


def silent(prefs: Preferences, now: datetime) -> bool:
    """Return True when a message sent now goes without a notification (quiet hours on)."""
    return is_quiet(prefs, now)


def next_release(prefs: Preferences, now: datetime, *, held: bool) -> datetime | None:
    """Return when the chat's next digest is due, or None when it has none to wait for.

    Digest mode: the next digest time. Instant mode: held alerts go when the quiet hours
    end, or at once when they are not on (the chat changed its settings meanwhile).
    """
    if prefs.mode == DIGEST:
        return next_local(prefs.digest_times or (DEFAULT_DIGEST_TIME,), prefs.timezone, now)
    if not held:
        return None
    if prefs.quiet_mode == HOLD:
        ends = quiet_ends(prefs, now)
        if ends is not None:
            return ends
    return now
