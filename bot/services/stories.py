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
from bot.db import stories as stories_db
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
    sources: int = 1  # feeds that reported the story


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
    sources: tuple[int, ...] = ()  # feeds that reported each story, when known

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


def story_of(entry: Entry, source: str, sources: int = 1) -> Story:
    """Return a stored entry as an alert shows it."""
    return Story(
        title=entry.title,
        summary=entry.summary,
        link=entry.link,
        source=source,
        published=entry.published_at or entry.seen_at,
        sources=sources,
    )


def _story_key(entry: Entry) -> tuple[str, int]:
    """Return what groups entries: their story, or the entry itself when it has none."""
    return ("story", entry.story_id) if entry.story_id is not None else ("entry", entry.id or 0)


def _counts(session: Session, found: Sequence[Entry]) -> list[int]:
    counts = stories_db.source_counts(
        session=session, story_ids=(e.story_id for e in found if e.story_id is not None)
    )
    return [max(1, counts.get(e.story_id, 1)) if e.story_id else 1 for e in found]


def find_latest(*, session: Session, request: LatestRequest) -> list[Story]:
    """Return the newest stored stories matching the request: one (its newest report) each."""
    found: list[Entry] = []
    seen: set[tuple[str, int]] = set()
    for entry in entries_db.latest_entries(session=session, limit=LATEST_SCAN):
        if _story_key(entry) in seen:
            continue
        if request.query is not None and not matches(request.query, document_for(entry)):
            continue
        seen.add(_story_key(entry))
        found.append(entry)
        if len(found) >= request.count:
            break
    names = feeds_db.feed_names(session=session, feed_ids=(e.feed_id for e in found))
    counts = _counts(session, found)
    return [story_of(e, names.get(e.feed_id, ""), n) for e, n in zip(found, counts, strict=True)]


def try_topic(
    *, session: Session, query: Query, scan: int = TEST_SCAN
) -> list[tuple[str, bool, int]]:
    """Match the query against the newest stored stories: (headline, matched, sources) each.

    A story is one line (its newest report's headline); it matches when any of its reports
    among the newest does.
    """
    order: list[Entry] = []
    hits: dict[tuple[str, int], bool] = {}
    for e in entries_db.latest_entries(session=session, limit=scan):
        key = _story_key(e)
        if key not in hits:
            order.append(e)
            hits[key] = False
        hits[key] = hits[key] or matches(query, document_for(e))
    counts = _counts(session, order)
    return [(e.title, hits[_story_key(e)], n) for e, n in zip(order, counts, strict=True)]


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
            found = try_topic(session=s, query=choice.query)
            return TopicTest(
                label=choice.label,
                headlines=tuple((title, hit) for title, hit, _ in found),
                sources=tuple(n for _, _, n in found),
            )

        return await self._run(work)

    async def prune(self, *, retention_days: int) -> tuple[int, datetime]:
        """Drop stories older than the retention period, and old topic changes.

        Return how many stories went and the cutoff.
        """
        now = utcnow()
        cutoff = entries_db.retention_cutoff(now=now, days=retention_days)

        def work(s: Session) -> int:
            removed = entries_db.prune_entries(session=s, older_than=cutoff)
            stories_db.prune_stories(session=s, older_than=cutoff)
            topic_rows.prune_topic_changes(session=s, older_than=now - TOPIC_CHANGES_KEPT)
            return removed

        return await self._run(work), cutoff
