"""Time zones by IANA name, or by a big city's name for people who type one."""

from __future__ import annotations

import functools
import zoneinfo

from bot.i18n import N_, Explained

MAX_ZONE_CHARS = 64

# Cities people name that are not the last part of an IANA name (Europe/Berlin covers
# "Berlin" already), mapped to the zone they keep.
CITIES = {
    "barcelona": "Europe/Madrid",
    "beijing": "Asia/Shanghai",
    "boston": "America/New_York",
    "bombay": "Asia/Kolkata",
    "calcutta": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "frankfurt": "Europe/Berlin",
    "geneva": "Europe/Zurich",
    "hamburg": "Europe/Berlin",
    "kiev": "Europe/Kyiv",
    "kyiv": "Europe/Kyiv",
    "miami": "America/New_York",
    "milan": "Europe/Rome",
    "mumbai": "Asia/Kolkata",
    "munich": "Europe/Berlin",
    "new delhi": "Asia/Kolkata",
    "nyc": "America/New_York",
    "rio": "America/Sao_Paulo",
    "rio de janeiro": "America/Sao_Paulo",
    "saint petersburg": "Europe/Moscow",
    "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "st petersburg": "Europe/Moscow",
    "washington": "America/New_York",
    "gmt": "UTC",
    "utc": "UTC",
    "z": "UTC",
}


class ZoneError(Explained):
    """A time zone nobody knows; the message says what to type instead."""


@functools.cache
def _index() -> dict[str, str]:
    """Return every IANA name by its lowercase form and by its city, e.g. 'new york'."""
    names = zoneinfo.available_timezones()
    found: dict[str, str] = {}
    for name in sorted(names):
        found[name.lower()] = name
    for name in sorted(names):
        if "/" in name and not name.startswith(("Etc/", "SystemV/")):
            city = name.rsplit("/", 1)[1].replace("_", " ").lower()
            found.setdefault(city, name)
    return found


def _key(text: str) -> str:
    return " ".join(text.replace("_", " ").replace(".", " ").split()).lower()


def resolve_zone(text: str) -> str:
    """Return the IANA name for an IANA name (any case) or a big city's name."""
    raw = text.strip()
    if not raw:
        raise ZoneError(N_("Tell me a time zone, e.g. Europe/Berlin or a city like London."))
    if len(raw) > MAX_ZONE_CHARS:
        raise ZoneError(N_("That is too long for a time zone name."))
    index = _index()
    name = index.get(raw.lower()) or index.get(_key(raw).replace(" ", "_")) or None
    name = name or CITIES.get(_key(raw)) or index.get(_key(raw))
    if name is None:
        raise ZoneError(
            N_(
                "I don't know the time zone “{zone}”. Use an IANA name like Europe/Berlin or "
                "America/New_York, or a big city: Berlin, London, New York, Moscow, Tokyo."
            ),
            zone=raw,
        )
    zone(name)  # it loads, or ZoneError
    return name


def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the zone of a stored IANA name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ZoneError(N_("The time zone “{zone}” can't be loaded."), zone=name) from err
