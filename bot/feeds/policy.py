"""When to poll a feed again: the feed's own pace (ttl, Cache-Control, Retry-After) and
backoff for failing feeds. Pure: the fetcher and the poll pipeline both ask here."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime

from bot.backoff import backoff

# Feeds may ask for long pauses (ttl, max-age, Retry-After) and failing feeds back off,
# but every feed is tried again within this time.
MAX_DELAY_SECONDS = 6 * 3600


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the seconds a Retry-After header asks for (RFC 9110 §10.2.3), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def cache_max_age(headers: Mapping[str, str] | None) -> float | None:
    """Return Cache-Control max-age in seconds, unless the response forbids caching."""
    value = _header(headers, "cache-control")
    if value is None:
        return None
    max_age = None
    for directive in value.split(","):
        name, _, argument = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return None
        if name == "max-age":
            argument = argument.strip().strip('"')
            if argument.isdigit():
                max_age = float(argument)
    return max_age


def next_poll_delay(
    *,
    default_seconds: float,
    ttl_seconds: int | None,
    headers: Mapping[str, str] | None,
    retry_after: float | None = None,
    cap_seconds: float = MAX_DELAY_SECONDS,
) -> float:
    """Return seconds until the next poll of a feed.

    Never sooner than the feed asks (RSS ttl, Cache-Control max-age, Retry-After)
    and never later than `cap_seconds`.
    """
    if retry_after is None:
        retry_after = parse_retry_after(_header(headers, "retry-after"))
    asked = [default_seconds]
    for wish in (ttl_seconds, cache_max_age(headers), retry_after):
        if wish is not None and wish > 0:
            asked.append(float(wish))
    return max(0.0, min(max(asked), cap_seconds))


def backoff_delay(
    *, error_count: int, base_seconds: float, cap_seconds: float = MAX_DELAY_SECONDS
) -> float:
    """Return seconds to wait after `error_count` consecutive failures.

    Doubles per failure from `base_seconds`, capped at `cap_seconds`, less up to
    10% jitter so failing feeds do not retry in lockstep.
    """
    return backoff(error_count, base=base_seconds, cap=cap_seconds, jitter=0.1)


def failure_delay(
    *,
    error_count: int,
    base_seconds: float,
    retry_after: float | None = None,
    cap_seconds: float = MAX_DELAY_SECONDS,
) -> float:
    """Return seconds until a failing feed is tried again: its backoff, or longer when the
    server asked for a pause (Retry-After), never longer than `cap_seconds`."""
    delay = backoff_delay(
        error_count=error_count, base_seconds=base_seconds, cap_seconds=cap_seconds
    )
    if retry_after:
        delay = max(delay, min(retry_after, cap_seconds))
    return delay


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Look a header up without regard to case."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
