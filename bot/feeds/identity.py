"""Names and identities: a feed's display name, hosts, canonical links and entry keys."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

MAX_KEY_LENGTH = 512

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Click and campaign trackers that feeds append to the same story link.
_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
# "scheme://user:password@" anywhere in a text (userinfo never holds "/", "@" or spaces).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def host_of(url: str) -> str:
    """Return the URL's host for logs and limits (never the query, which may hold secrets)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def feed_name(*, title: str | None, url: str) -> str:
    """Return how a feed is named everywhere (alerts, /feeds, the command line): its title,
    else its host."""
    return title or host_of(url)


def hide_credentials(text: str) -> str:
    """Replace the user and password of every URL in text with "***"."""
    return _USERINFO.sub(r"\1***@", text)


def canonical_link(url: str) -> str:
    """Return the link in a normal form so one story has one link.

    Lower-case the scheme and host, drop the default port and the fragment, and
    remove `utm_*`, `fbclid` and `gclid` query parameters. Other parameters stay in
    their order and spelling. A string that is not a URL comes back trimmed.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not scheme or host is None:
        return text
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    path = parts.path
    if not path and scheme in _DEFAULT_PORTS:
        path = "/"
    return urlunsplit((scheme, netloc, path, _strip_tracking(parts.query), ""))


def _strip_tracking(query: str) -> str:
    """Drop tracking parameters, keeping the rest byte for byte."""
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0].lower()
        if name.startswith("utm_") or name in _TRACKING_PARAMS:
            continue
        kept.append(pair)
    return "&".join(kept)


def entry_key(
    *, guid: str | None, link: str | None, title: str | None, published: str | None
) -> str:
    """Return the key that identifies an entry within its feed.

    Prefer the entry's guid/id, then its canonical link, then a hash of its
    title and publication date. Keys never exceed `MAX_KEY_LENGTH` characters.
    """
    if guid is not None and guid.strip():
        return _bounded("guid:", guid.strip())
    if link is not None and link.strip():
        return _bounded("link:", canonical_link(link))
    material = f"{(title or '').strip()}\x1f{(published or '').strip()}"
    return "hash:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


def _bounded(prefix: str, value: str) -> str:
    """Join prefix and value, hashing the value when the key would be too long."""
    key = prefix + value
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return prefix + "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
