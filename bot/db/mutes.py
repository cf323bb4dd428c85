"""Muted topics, and who gets a story's alert once mutes are taken out. Keyword-only arguments.

A mute is a (chat, topic) row with an end time; rows past their end are ignored at once and
deleted by the daily maintenance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import catalog as catalog_db
from bot.db import upsert
from bot.db.models import CatalogTopic, Chat, Subscription, Topic, TopicMute, utcnow

# A chat follows at most 50 topics; the outbox row keeps the first few that matched.
MAX_MATCHED_KEPT = 10


def mute(*, session: Session, chat_id: int, topic_id: int, until: datetime) -> None:
    """Mute the chat's topic until `until` (a second mute moves the end)."""
    stmt = upsert.insert(session, TopicMute).values(
        chat_id=chat_id, topic_id=topic_id, until=until, created_at=utcnow()
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["chat_id", "topic_id"], set_={"until": stmt.excluded.until}
        )
    )


def unmute(*, session: Session, chat_id: int, topic_id: int, now: datetime) -> bool:
    """End the chat's mute of the topic; return whether one was in force."""
    gone = session.execute(
        sa.delete(TopicMute)
        .where(col(TopicMute.chat_id) == chat_id, col(TopicMute.topic_id) == topic_id)
        .returning(col(TopicMute.until))
    ).first()
    return gone is not None and gone[0] > now


def muted_until(*, session: Session, chat_id: int, topic_id: int, now: datetime) -> datetime | None:
    """Return when the chat's mute of the topic ends, or None when it is not muted."""
    row = session.get(TopicMute, (chat_id, topic_id), populate_existing=True)
    return row.until if row is not None and row.until > now else None


def prune_mutes(*, session: Session, now: datetime) -> int:
    """Delete mutes that have ended; return how many."""
    result = session.execute(sa.delete(TopicMute).where(col(TopicMute.until) <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def recipients(
    *, session: Session, topic_ids: Iterable[int], now: datetime
) -> dict[int, tuple[int | None, list[int]]]:
    """Return {chat: (thread, its matched topic ids)} of active chats following the topics.

    A topic the chat muted (until after `now`) doesn't count; a chat whose every matched
    topic is muted is left out. Topics are in the order the chat followed them.
    """
    ids = list(set(topic_ids))
    found: dict[int, tuple[int | None, list[int]]] = {}
    muted = sa.exists().where(
        col(TopicMute.chat_id) == col(Subscription.chat_id),
        col(TopicMute.topic_id) == col(Subscription.topic_id),
        col(TopicMute.until) > now,
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(Subscription.chat_id, Subscription.thread_id, Subscription.topic_id)
            .join(Chat, col(Chat.id) == col(Subscription.chat_id))
            .where(col(Subscription.topic_id).in_(chunk), col(Chat.active), ~muted)
            .order_by(col(Subscription.created_at), col(Subscription.topic_id))
        )
        for chat_id, thread_id, topic_id in session.exec(stmt):
            _, matched = found.setdefault(chat_id, (thread_id, []))
            if len(matched) < MAX_MATCHED_KEPT:
                matched.append(topic_id)
    return found


def topic_tag(canonical: str) -> str:
    """Return a short fingerprint of a topic's query for its buttons.

    A button names a topic by id; SQLite may hand a deleted topic's id to the next new one,
    so a press checks the fingerprint too and never acts on another topic.
    """
    return hashlib.blake2s(canonical.encode("utf-8"), digest_size=4).hexdigest()


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A topic as its buttons name it: id, fingerprint and label."""

    id: int
    tag: str
    label: str  # the catalog name, else the query as written


def topic_refs(*, session: Session, topic_ids: Iterable[int]) -> dict[int, TopicRef]:
    """Return {topic id: its reference} of the ids that exist."""
    ids = list(set(topic_ids))
    if not ids:
        return {}
    names = catalog_db.catalog_names(session=session)
    refs: dict[int, TopicRef] = {}
    for start in range(0, len(ids), 500):
        stmt = select(Topic.id, Topic.canonical, Topic.display).where(
            col(Topic.id).in_(ids[start : start + 500])
        )
        for topic_id, canonical, display in session.exec(stmt):
            if topic_id is not None:
                label = names.get(canonical, display)
                refs[topic_id] = TopicRef(id=topic_id, tag=topic_tag(canonical), label=label)
    return refs


def is_subscribed(*, session: Session, chat_id: int, topic_id: int) -> bool:
    """Tell whether the chat follows the topic."""
    return session.get(Subscription, (chat_id, topic_id), populate_existing=True) is not None


def catalog_topic_for(*, session: Session, canonical: str) -> CatalogTopic | None:
    """Return the catalog topic whose query this is, unless it was removed."""
    stmt = select(CatalogTopic).where(CatalogTopic.canonical == canonical, col(CatalogTopic.active))
    return session.exec(stmt).first()
