"""Store a feed's new entries and queue their alerts in one transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import entries, mutes, outbox, preferences
from bot.db import stories as stories_db
from bot.db.engine import session_scope
from bot.db.models import Entry, utcnow
from bot.ingest.story_groups import StoryGroups
from bot.ingest.topic_cache import TopicCache
from bot.stories.alerts import plan_report
from bot.topics import document_for

log = logging.getLogger(__name__)

# The pipeline's database writes go one at a time: SQLite allows one writer, and a writer
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
    description: str  # the feed's own blurb
    categories: tuple[str, ...]
    published: datetime | None


@dataclass(frozen=True, slots=True)
class StoreReport:
    stored: int
    alerts_queued: int


def store_entries(
    *,
    engine: Engine,
    topics: TopicCache,
    feed_id: int,
    items: list[NewEntry],
    history: bool,
    seen_at: datetime | None = None,
    present_keys: Sequence[str] = (),
    stories: StoryGroups | None = None,
) -> StoreReport:
    """Store new entries; unless they are history, queue an alert per subscribed chat.

    A story whose canonical link another feed already brought is stored as history:
    a chat gets one alert per story, whichever feed carries it. `present_keys` name stored
    entries the feed's content still carries; they are marked seen at `seen_at`.

    With `stories`, each entry joins a story or starts one, and a chat gets one alert per
    story: later reports edit the alert it got (bot/stories/alerts.py).
    """
    now = seen_at or utcnow()
    if not history and items:
        topics.refresh(engine)
    # Feeds are polled concurrently; storing one batch at a time makes the cross-feed
    # duplicate check (same canonical link) see what the other feed just stored.
    with WRITE_LOCK:
        try:
            return _store(engine, topics, feed_id, items, history, now, present_keys, stories)
        except Exception:
            if stories is not None:
                stories.reset()  # what the engine learned was rolled back
            raise


def _store(
    engine: Engine,
    topics: TopicCache,
    feed_id: int,
    items: list[NewEntry],
    history: bool,
    now: datetime,
    present_keys: Sequence[str],
    stories: StoryGroups | None,
) -> StoreReport:
    queued = 0
    with session_scope(engine) as session:
        if present_keys:
            entries.touch_entries(session=session, feed_id=feed_id, keys=present_keys, when=now)
        if not items:
            return StoreReport(stored=0, alerts_queued=0)
        known = entries.known_keys(session=session, feed_id=feed_id, keys=[i.key for i in items])
        link_keys = [i.link_key for i in items if i.link_key]
        seen_links = entries.known_link_keys(session=session, link_keys=link_keys)
        new: list[Entry] = []
        for item in items:
            if item.key in known:
                continue
            known.add(item.key)
            duplicate = bool(item.link_key and item.link_key in seen_links)
            if item.link_key:
                seen_links.add(item.link_key)
            new.append(
                Entry(
                    feed_id=feed_id,
                    key=item.key,
                    link=item.link,
                    link_key=item.link_key,
                    title=item.title[:400],
                    summary=item.summary,
                    description=item.description,
                    categories="\n".join(item.categories),
                    published_at=item.published,
                    seen_at=now,
                    last_seen_at=now,
                    is_history=history or duplicate,
                )
            )
        if not new:
            return StoreReport(stored=0, alerts_queued=0)
        entries.insert_entries(session=session, entries=new)
        if stories is not None:
            stories.place(session=session, entries=new, now=now)
        fresh = [e for e in new if not e.is_history]
        docs = [document_for(entry) for entry in fresh]
        matched = topics.match_all(session=session, docs=docs) if docs else []
        for entry, topic_ids in zip(fresh, matched, strict=True):
            assert entry.id is not None
            alerts = 0
            chats: dict[int, int | None] = {}
            matched_ids: dict[int, list[int]] = {}
            if topic_ids:
                # Chats that muted every matched topic are left out.
                found = mutes.recipients(session=session, topic_ids=topic_ids, now=now)
                matched_ids = {chat: ids for chat, (_, ids) in found.items()}
                # Chats in digest mode or quiet hours get the story in their next digest.
                chats = preferences.route_alerts(
                    session=session,
                    entry_id=entry.id,
                    chats={chat: thread for chat, (thread, _) in found.items()},
                    topic_ids=topic_ids,
                    now=now,
                )
            if stories is not None and entry.story_id is not None:
                alerts = _story_alerts(session, entry, chats, stories, matched_ids)
            elif chats:
                alerts = outbox.enqueue_entry(
                    session=session, entry_id=entry.id, chats=chats, topics=matched_ids
                )
            queued += alerts
            log.debug(
                "story %d stored: %d topics matched, %d alerts queued",
                entry.id,
                len(topic_ids),
                alerts,
                extra={"feed": feed_id, "entry": entry.key},
            )
    return StoreReport(stored=len(new), alerts_queued=queued)


def _story_alerts(
    session: Session,
    entry: Entry,
    chats: dict[int, int | None],
    stories: StoryGroups,
    matched_ids: dict[int, list[int]],
) -> int:
    """Queue the story's alert for chats that never got it, an edit for those that did."""
    assert entry.id is not None and entry.story_id is not None
    story_id = entry.story_id
    alerted = stories_db.alerted_chats(session=session, story_id=story_id)
    undelivered = stories_db.undelivered_chats(session=session, story_id=story_id, chats=alerted)
    plan = plan_report(matched=chats, alerted=alerted, undelivered=undelivered)
    # A chat whose alert never arrived keeps its (locked) record and gets this one instead.
    first = [c for c in plan.alerts if c not in alerted]
    won = stories_db.claim_alerts(session=session, story_id=story_id, chats=first)
    won |= undelivered & plan.alerts.keys()
    edits = list(plan.edits)
    lost = [c for c in plan.alerts if c not in won]
    if lost:
        # Another process recorded the alert first: these chats get an edit instead.
        now_alerted = stories_db.alerted_chats(session=session, story_id=story_id)
        edits += [c for c in lost if now_alerted.get(c) is False]
    stories_db.enqueue_edits(
        session=session, story_id=story_id, chats=edits, interval=stories.edit_interval
    )
    return stories_db.enqueue_alerts(
        session=session,
        entry_id=entry.id,
        story_id=story_id,
        chats={c: t for c, t in plan.alerts.items() if c in won},
        topics=matched_ids,
    )
