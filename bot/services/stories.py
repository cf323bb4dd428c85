"""Stored stories on demand: /latest, /testtopic, and pruning old ones.

Topics match a stored story exactly as they match a new one when its alerts are queued
(bot/topics/matching.py, document_for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.db import entries as entries_db
from bot.db import feeds as feeds_db
from bot.db import topic_rows
from bot.db.models import Entry, utcnow
from bot.i18n import N_
from bot.services.base import Service
from bot.services.catalog import CatalogItem, choose_topic, read_catalog
from bot.topics import Query, QueryError, document_for, matches

LATEST_SCAN = 500
LATEST_MAX = 5
TEST_SCAN = 20
# Matching indexes catch up from topic changes; one that fell further behind rebuilds.
TOPIC_CHANGES_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Story:
    """A story as an alert shows it."""

    title: str
    summary: str
    link: str | None
    source: str  # the feed's display name
    published: datetime | None


@dataclass(frozen=True, slots=True)
class LatestRequest:
    query: Query | None
    count: int
    # The catalog name the query came from, if any.
    name: str | None = None

    @property
    def label(self) -> str:
        """Return how the topic is shown."""
        if self.name:
            return self.name
        return self.query.display if self.query is not None else ""


@dataclass(frozen=True, slots=True)
class Latest:
    request: LatestRequest
    stories: list[Story]  # newest first


@dataclass(frozen=True, slots=True)
class TopicTest:
    """The newest stories and, for each, whether the topic matches it."""

    label: str
    headlines: tuple[tuple[str, bool], ...]

    @property
    def matched(self) -> int:
        return sum(hit for _, hit in self.headlines)


def parse_latest(raw: str, catalog: Sequence[CatalogItem] = ()) -> LatestRequest:
    """Parse `/latest [QUERY] [N]`; N is 1..5 and defaults to 1; QUERY may be a catalog name."""
    words = raw.split()
    count = 1
    if words and words[-1].isdigit():
        count = int(words[-1])
        if not 1 <= count <= LATEST_MAX:
            raise QueryError(
                N_("I can show between 1 and {limit} stories at a time."), limit=LATEST_MAX
            )
        raw = raw[: raw.rstrip().rfind(words[-1])].strip()
    if not raw:
        return LatestRequest(query=None, count=count)
    choice = choose_topic(raw, catalog)
    return LatestRequest(query=choice.query, count=count, name=choice.name)


def story_of(entry: Entry, source: str) -> Story:
    """Return a stored entry as an alert shows it."""
    return Story(
        title=entry.title,
        summary=entry.summary,
        link=entry.link,
        source=source,
        published=entry.published_at or entry.seen_at,
    )


def find_latest(*, session: Session, request: LatestRequest) -> list[Story]:
    """Return the newest stored stories matching the request."""
    found: list[Entry] = []
    for entry in entries_db.latest_entries(session=session, limit=LATEST_SCAN):
        if request.query is not None and not matches(request.query, document_for(entry)):
            continue
        found.append(entry)
        if len(found) >= request.count:
            break
    names = feeds_db.feed_names(session=session, feed_ids=(e.feed_id for e in found))
    return [story_of(e, names.get(e.feed_id, "")) for e in found]


def try_topic(*, session: Session, query: Query, scan: int = TEST_SCAN) -> list[tuple[str, bool]]:
    """Match the query against the newest stored stories: (headline, matched) each."""
    stored = entries_db.latest_entries(session=session, limit=scan)
    return [(e.title, matches(query, document_for(e))) for e in stored]


class Stories(Service):
    async def latest(self, raw: str) -> Latest:
        """Return the newest stories, or the newest matching `[QUERY] [N]`; raise QueryError."""

        def work(s: Session) -> Latest:
            request = parse_latest(raw, read_catalog(s))
            return Latest(request=request, stories=find_latest(session=s, request=request))

        return await self._run(work)

    async def test_topic(self, raw: str) -> TopicTest:
        """Return which of the newest stories a query or catalog name matches."""

        def work(s: Session) -> TopicTest:
            choice = choose_topic(raw, read_catalog(s))
            headlines = try_topic(session=s, query=choice.query)
            return TopicTest(label=choice.label, headlines=tuple(headlines))

        return await self._run(work)

    async def prune(self, *, retention_days: int) -> tuple[int, datetime]:
        """Drop stories older than the retention period, and old topic changes.

        Return how many stories went and the cutoff.
        """
        now = utcnow()
        cutoff = entries_db.retention_cutoff(now=now, days=retention_days)

        def work(s: Session) -> int:
            removed = entries_db.prune_entries(session=s, older_than=cutoff)
            topic_rows.prune_topic_changes(session=s, older_than=now - TOPIC_CHANGES_KEPT)
            return removed

        return await self._run(work), cutoff
