"""A story waiting in a chat's digest: pure data, no database rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One held story: its headline and link, the topic it matched, when it was published."""

    topic: str
    title: str
    link: str | None
    published: datetime
