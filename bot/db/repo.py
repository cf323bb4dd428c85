"""Data-access functions: one unit of work each, keyword-only arguments, no Telegram."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import topic_rows, upsert
from bot.db.models import Chat, Delivery, Entry, Feed, Subscription, Topic, utcnow

MAX_TOPICS_PER_CHAT = 50


class TopicLimitError(Exception):
    """The chat already has the maximum number of topics."""


# --- chats -----------------------------------------------------------------------------


def register_chat(*, session: Session, chat_id: int, chat_type: str, title: str | None) -> Chat:
    """Create the chat or bring it back to active, keeping its subscriptions."""
    now = utcnow()
    session.execute(
        upsert.insert(session, Chat)
        .values(id=chat_id, type=chat_type, title=title, updated_at=now)
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"active": True, "type": chat_type, "title": title, "updated_at": now},
        )
    )
    return _chat(session, chat_id)


def ensure_chat(*, session: Session, chat_id: int, chat_type: str, title: str | None) -> Chat:
    """Return the chat, creating it (active) when it is new; an inactive chat stays inactive."""
    session.execute(
        upsert.insert(session, Chat)
        .values(id=chat_id, type=chat_type, title=title)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return _chat(session, chat_id)


def _chat(session: Session, chat_id: int) -> Chat:
    chat = session.get(Chat, chat_id, populate_existing=True)
    assert chat is not None
    return chat


def deactivate_chat(*, session: Session, chat_id: int, reason: str) -> int:
    """Mark the chat inactive and cancel its queued messages; return how many were cancelled."""
    chat = session.get(Chat, chat_id)
    if chat is not None:
        chat.active = False
        chat.updated_at = utcnow()
        session.add(chat)
    result = session.execute(
        sa.update(Delivery)
        .where(col(Delivery.chat_id) == chat_id, col(Delivery.state).in_(("queued", "sending")))
        .values(state="cancelled", last_error=reason[:500])
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_chat_ids(*, session: Session) -> list[int]:
    """Return the ids of every chat that should receive broadcasts."""
    return list(session.exec(select(Chat.id).where(col(Chat.active)).order_by(col(Chat.id))))


# --- topics and subscriptions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscribeOutcome:
    topic: Topic
    created: bool


def subscribe(
    *,
    session: Session,
    chat_id: int,
    canonical: str,
    display: str,
    thread_id: int | None = None,
) -> SubscribeOutcome:
    """Subscribe the chat to the topic (shared by canonical form); idempotent.

    Safe when many chats subscribe to one new topic at once, or one chat twice.
    """
    topic_id, _ = topic_rows.get_or_create_topic(
        session=session, canonical=canonical, display=display
    )
    # The chat's row is locked so that its count and its insert are one step (PostgreSQL;
    # SQLite has one writer at a time).
    session.exec(select(Chat.id).where(Chat.id == chat_id).with_for_update(key_share=True)).first()
    topic = session.get(Topic, topic_id)
    assert topic is not None
    existing = session.get(Subscription, (chat_id, topic_id), populate_existing=True)
    if existing is not None:
        if existing.thread_id != thread_id:
            existing.thread_id = thread_id
            session.add(existing)
        return SubscribeOutcome(topic=topic, created=False)
    count = session.exec(
        select(sa.func.count()).select_from(Subscription).where(Subscription.chat_id == chat_id)
    ).one()
    if count >= MAX_TOPICS_PER_CHAT:
        raise TopicLimitError(f"at most {MAX_TOPICS_PER_CHAT} topics per chat")
    added = session.execute(
        upsert.insert(session, Subscription)
        .values(chat_id=chat_id, topic_id=topic_id, thread_id=thread_id)
        .on_conflict_do_nothing(index_elements=["chat_id", "topic_id"])
        .returning(col(Subscription.chat_id))
    ).first()
    return SubscribeOutcome(topic=topic, created=added is not None)


def unsubscribe(*, session: Session, chat_id: int, canonical: str) -> Topic | None:
    """Remove the chat's subscription; return the topic, or None when it wasn't subscribed."""
    topic = session.exec(select(Topic).where(Topic.canonical == canonical)).first()
    if topic is None or topic.id is None:
        return None
    gone = session.execute(
        sa.delete(Subscription)
        .where(col(Subscription.chat_id) == chat_id, col(Subscription.topic_id) == topic.id)
        .returning(col(Subscription.topic_id))
    ).first()
    if gone is None:
        return None
    topic_rows.drop_topic_if_orphan(session=session, topic_id=topic.id)
    return topic


def chat_topics(*, session: Session, chat_id: int) -> list[Topic]:
    """Return the chat's topics in the order they were added."""
    stmt = (
        select(Topic)
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
        .where(Subscription.chat_id == chat_id)
        .order_by(col(Subscription.created_at), col(Topic.id))
    )
    return list(session.exec(stmt))


def all_topics(*, session: Session) -> list[Topic]:
    """Return every topic that has at least one subscriber."""
    return list(session.exec(select(Topic).order_by(col(Topic.id))))


# --- feeds and entries -------------------------------------------------------------------


def add_feeds(*, session: Session, urls: Iterable[str]) -> list[Feed]:
    """Store feeds that aren't stored yet; return the new ones."""
    added = []
    for url in dict.fromkeys(urls):
        feed_id = session.execute(
            upsert.insert(session, Feed)
            .values(url=url)
            .on_conflict_do_nothing(index_elements=["url"])
            .returning(col(Feed.id))
        ).scalar_one_or_none()
        if feed_id is not None:
            added.append(feed_id)
    return [f for f in (session.get(Feed, i) for i in added) if f is not None]


def due_feeds(*, session: Session, now: datetime, limit: int = 1000) -> list[Feed]:
    """Return enabled feeds whose next poll time has come, the most overdue first."""
    stmt = (
        select(Feed)
        .where(
            col(Feed.enabled),
            sa.or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= now),
        )
        .order_by(col(Feed.next_poll_at).is_not(None), col(Feed.next_poll_at), col(Feed.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def known_keys(*, session: Session, feed_id: int, keys: Sequence[str]) -> set[str]:
    """Return which of `keys` are already stored for the feed."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.exec(
                select(Entry.key).where(Entry.feed_id == feed_id, col(Entry.key).in_(chunk))
            )
        )
    return found


def known_link_keys(*, session: Session, link_keys: Sequence[str]) -> set[str]:
    """Return which canonical links are already stored from any feed."""
    found: set[str] = set()
    for start in range(0, len(link_keys), 500):
        chunk = link_keys[start : start + 500]
        found.update(
            k
            for k in session.exec(select(Entry.link_key).where(col(Entry.link_key).in_(chunk)))
            if k is not None
        )
    return found


def latest_entries(*, session: Session, limit: int) -> list[Entry]:
    """Return the newest stored entries, newest first.

    Stories stored in one batch (a feed's first poll) share `seen_at`; their publication
    time orders them.
    """
    stmt = (
        select(Entry)
        .order_by(
            col(Entry.seen_at).desc(),
            col(Entry.published_at).desc().nulls_last(),
            col(Entry.id).desc(),
        )
        .limit(limit)
    )
    return list(session.exec(stmt))


def feed_titles(*, session: Session, feed_ids: Iterable[int]) -> dict[int, str]:
    """Return a display name for each feed id (its title, else its host)."""
    ids = list(set(feed_ids))
    if not ids:
        return {}
    rows = session.exec(select(Feed).where(col(Feed.id).in_(ids)))
    return {f.id: feed_display_name(f) for f in rows if f.id is not None}


def feed_display_name(feed: Feed) -> str:
    """Return the feed's title, or its host when it has none."""
    if feed.title:
        return feed.title
    host = feed.url.split("://", 1)[-1].split("/", 1)[0]
    return host


def subscribers_for_topics(*, session: Session, topic_ids: Iterable[int]) -> dict[int, int | None]:
    """Return {chat_id: thread_id} of active chats subscribed to any of the topics."""
    ids = list(set(topic_ids))
    chats: dict[int, int | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(Subscription.chat_id, Subscription.thread_id)
            .join(Chat, col(Chat.id) == col(Subscription.chat_id))
            .where(col(Subscription.topic_id).in_(chunk), col(Chat.active))
        )
        for chat_id, thread_id in session.exec(stmt):
            chats.setdefault(chat_id, thread_id)
    return chats


def enqueue_entry(*, session: Session, entry_id: int, chats: dict[int, int | None]) -> int:
    """Queue one alert per chat for the entry, skipping chats that already have it."""
    if not chats:
        return 0
    ids = list(chats)
    already: set[int] = set()
    for start in range(0, len(ids), 500):
        already.update(
            session.exec(
                select(Delivery.chat_id).where(
                    Delivery.entry_id == entry_id,
                    col(Delivery.chat_id).in_(ids[start : start + 500]),
                )
            )
        )
    now = utcnow()
    rows = [
        {
            "chat_id": c,
            "thread_id": t,
            "entry_id": entry_id,
            "state": "queued",
            "priority": 0,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for c, t in chats.items()
        if c not in already
    ]
    # One executemany instead of an ORM object per row: a story for 10,000 subscribers is
    # queued in well under a second.
    if rows:
        # A row another writer queued meanwhile is left as it is.
        session.execute(upsert.insert(session, Delivery).on_conflict_do_nothing(), rows)
    return len(rows)


def chats_with_link(*, session: Session, link_key: str) -> set[int]:
    """Return chats that already have an alert queued or sent for a story with this link."""
    stmt = (
        select(Delivery.chat_id)
        .join(Entry, col(Entry.id) == col(Delivery.entry_id))
        .where(Entry.link_key == link_key)
    )
    return set(session.exec(stmt))


def prune_entries(*, session: Session, older_than: datetime) -> int:
    """Delete entries that are old and gone from their feed, with their finished deliveries.

    An entry is the only record that a story was seen, so it is kept while its feed still
    carries it: deleted only when first seen before `older_than`, absent from the feed's
    content since before `older_than`, and absent from the feed's latest content. A story
    can then come back as new only after leaving its feed for the whole retention period.
    Entries with an alert still waiting to be sent stay.
    """
    latest_read = (
        sa.select(col(Feed.last_parsed_at))
        .where(col(Feed.id) == col(Entry.feed_id))
        .scalar_subquery()
    )
    waiting = (
        sa.select(col(Delivery.id))
        .where(
            col(Delivery.entry_id) == col(Entry.id),
            col(Delivery.state).in_(("queued", "sending")),
        )
        .exists()
    )
    result = session.execute(
        sa.delete(Entry).where(
            col(Entry.seen_at) < older_than,
            col(Entry.last_seen_at) < older_than,
            col(Entry.last_seen_at) < latest_read,
            ~waiting,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- chat moves (claims, outcomes and broadcasts live in bot/db/outbox.py) -----------------


def migrate_chat(*, session: Session, old_id: int, new_id: int) -> None:
    """Move a chat that became a supergroup: its subscriptions and open messages follow.

    Rows being sent or queued for the old id are queued again at the new id (Telegram
    refused them there, so nothing was delivered), unless the new chat already has the same
    alert or broadcast.
    """
    old = session.get(Chat, old_id)
    session.execute(
        upsert.insert(session, Chat)
        .values(id=new_id, type="supergroup", title=old.title if old else None)
        .on_conflict_do_update(index_elements=["id"], set_={"active": True})
    )
    moved = sa.select(
        sa.literal(new_id, type_=sa.BigInteger),
        col(Subscription.topic_id),
        col(Subscription.thread_id),
        col(Subscription.created_at),
    ).where(col(Subscription.chat_id) == old_id)
    session.execute(
        upsert.insert(session, Subscription)
        .from_select(["chat_id", "topic_id", "thread_id", "created_at"], moved)
        .on_conflict_do_nothing(index_elements=["chat_id", "topic_id"])
    )
    session.execute(sa.delete(Subscription).where(col(Subscription.chat_id) == old_id))
    at_new = session.exec(
        select(Delivery.entry_id, Delivery.broadcast_id).where(Delivery.chat_id == new_id)
    ).all()
    entries = {e for e, _ in at_new if e is not None}
    broadcasts = {b for _, b in at_new if b is not None}
    now = utcnow()
    for row in list(
        session.exec(
            select(Delivery).where(
                Delivery.chat_id == old_id, col(Delivery.state).in_(("queued", "sending"))
            )
        )
    ):
        if row.entry_id in entries or row.broadcast_id in broadcasts:
            row.state = "cancelled"
            row.last_error = f"chat migrated to {new_id}"
        else:
            row.chat_id = new_id
            row.state = "queued"
            row.next_attempt_at = now
        row.claimed_by = None
        row.claimed_at = None
        session.add(row)
    session.flush()
    if old is not None:
        old.active = False
        session.add(old)


def retention_cutoff(*, now: datetime, days: int) -> datetime:
    """Return the time before which entries are pruned."""
    return now - timedelta(days=days)
