"""Store a feed's new entries and queue their alerts in one transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db import feeds as feeds_db
from bot.db import repo, topic_rows
from bot.db.engine import session_scope
from bot.db.models import Entry, utcnow
from bot.topics import Document, QueryError, TopicIndex, parse_query

log = logging.getLogger(__name__)

# The watcher's database writes go one at a time: SQLite allows one writer, and a writer
# that finds the database busy sleeps in steps of up to 100 ms before trying again.
WRITE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A parsed entry ready to store: identity, display fields and its summary."""

    key: str
    link: str | None
    link_key: str | None
    title: str
    summary: str
    feed_summary: str
    categories: tuple[str, ...]
    published: datetime | None


@dataclass(frozen=True, slots=True)
class StoreReport:
    stored: int
    alerts_queued: int


def document_for(*, title: str, summary: str, categories: tuple[str, ...] | list[str]) -> Document:
    """Return the matching document for a story: title, summary text and categories."""
    return Document.from_fields(title=title, summary=summary, categories=categories)


class TopicCache:
    """The matching index of every distinct topic, kept current one change at a time.

    Built once from the topic table; after that it applies the `topic_change` rows written
    since (by this process or any other sharing the database), so a topic added or dropped
    costs one parse and one index update, not a rebuild.
    """

    def __init__(self) -> None:
        self._index = TopicIndex()
        # The newest change the index reflects; None until it is built.
        self._cursor: int | None = None
        self._lock = threading.Lock()
        # How many times the index was built from the whole topic table.
        self.builds = 0

    def refresh(self, engine: Engine) -> None:
        """Build the index if it isn't yet, outside any lock the watcher's writes take."""
        if self._cursor is not None:
            return
        with session_scope(engine) as session:
            index, cursor = _build_index(session)
        with self._lock:
            if self._cursor is None:
                self._index, self._cursor = index, cursor
                self.builds += 1

    def match_all(self, *, session: Session, docs: Sequence[Document]) -> list[set[int]]:
        """Bring the index up to date, then return the topics each document matches."""
        with self._lock:
            if self._cursor is None or not self._catch_up(session):
                self._index, self._cursor = _build_index(session)
                self.builds += 1
            return [self._index.match(doc) for doc in docs]

    def __len__(self) -> int:
        return len(self._index)

    def _catch_up(self, session: Session) -> bool:
        """Apply the changes since the cursor; False when some were pruned (rebuild)."""
        assert self._cursor is not None
        changes = topic_rows.changes_since(session=session, after=self._cursor)
        if not changes:
            return True
        oldest, _ = topic_rows.change_bounds(session=session)
        if oldest > self._cursor + 1:
            return False
        ids = list(dict.fromkeys(topic_id for _, topic_id in changes))
        displays = topic_rows.topics_by_ids(session=session, ids=ids)
        for topic_id in ids:
            display = displays.get(topic_id)
            if display is None:
                self._index.remove(topic_id)
            else:
                _index_topic(self._index, topic_id, display)
        self._cursor = changes[-1][0]
        return True


def _index_topic(index: TopicIndex, topic_id: int, display: str) -> None:
    try:
        index.add(topic_id, parse_query(display))
    except QueryError:
        index.remove(topic_id)
        log.warning("topic %d no longer parses; ignored", topic_id)


def _build_index(session: Session) -> tuple[TopicIndex, int]:
    """Index every stored topic; return the index and the newest change it reflects."""
    # The cursor is read first: a change committed while the topics are read is applied
    # again at the next catch-up, which is harmless.
    _, newest = topic_rows.change_bounds(session=session)
    index = TopicIndex()
    for topic_id, display in topic_rows.all_topic_displays(session=session):
        _index_topic(index, topic_id, display)
    return index, newest


def store_entries(
    *,
    engine: Engine,
    topics: TopicCache,
    feed_id: int,
    items: list[NewEntry],
    history: bool,
    seen_at: datetime | None = None,
    present_keys: Sequence[str] = (),
) -> StoreReport:
    """Store new entries; unless they are history, queue an alert per subscribed chat.

    A story whose canonical link another feed already brought is stored as history:
    a chat gets one alert per story, whichever feed carries it. `present_keys` name stored
    entries the feed's content still carries; they are marked seen at `seen_at`.
    """
    queued = 0
    now = seen_at or utcnow()
    if not history and items:
        topics.refresh(engine)
    # Feeds are polled concurrently; storing one batch at a time makes the cross-feed
    # duplicate check (same canonical link) see what the other feed just stored.
    with WRITE_LOCK, session_scope(engine) as session:
        if present_keys:
            feeds_db.touch_entries(session=session, feed_id=feed_id, keys=present_keys, when=now)
        if not items:
            return StoreReport(stored=0, alerts_queued=0)
        known = repo.known_keys(session=session, feed_id=feed_id, keys=[i.key for i in items])
        link_keys = [i.link_key for i in items if i.link_key]
        seen_links = repo.known_link_keys(session=session, link_keys=link_keys)
        rows: list[dict[str, object]] = []
        added: list[NewEntry] = []
        for item in items:
            if item.key in known:
                continue
            known.add(item.key)
            duplicate = bool(item.link_key and item.link_key in seen_links)
            if item.link_key:
                seen_links.add(item.link_key)
            rows.append(
                {
                    "feed_id": feed_id,
                    "key": item.key,
                    "link": item.link,
                    "link_key": item.link_key,
                    "title": item.title[:400],
                    "summary": item.summary,
                    "categories": "\n".join(item.categories),
                    "published_at": item.published,
                    "seen_at": now,
                    "last_seen_at": now,
                    "is_history": history or duplicate,
                }
            )
            added.append(item)
        if not rows:
            return StoreReport(stored=0, alerts_queued=0)
        # One multi-row INSERT for the batch; ids come back in the order of the rows.
        ids = session.scalars(
            sa.insert(Entry).returning(col(Entry.id), sort_by_parameter_order=True), rows
        ).all()
        fresh = [
            (entry_id, item)
            for entry_id, row, item in zip(ids, rows, added, strict=True)
            if not row["is_history"]
        ]
        docs = [
            document_for(
                title=item.title,
                summary=f"{item.feed_summary}\n{item.summary}",
                categories=item.categories,
            )
            for _, item in fresh
        ]
        matched = topics.match_all(session=session, docs=docs) if docs else []
        for (entry_id, item), topic_ids in zip(fresh, matched, strict=True):
            assert entry_id is not None
            alerts = 0
            if topic_ids:
                chats = repo.subscribers_for_topics(session=session, topic_ids=topic_ids)
                alerts = repo.enqueue_entry(session=session, entry_id=entry_id, chats=chats)
            queued += alerts
            log.debug(
                "story %d stored: %d topics matched, %d alerts queued",
                entry_id,
                len(topic_ids),
                alerts,
                extra={"feed": feed_id, "entry": item.key},
            )
    return StoreReport(stored=len(added), alerts_queued=queued)
