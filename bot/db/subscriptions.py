"""A chat's topics: subscribing, unsubscribing and who follows what. Keyword-only arguments."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import topic_rows, upsert
from bot.db.models import Chat, Subscription, Topic

MAX_TOPICS_PER_CHAT = 50


class TopicLimitError(Exception):
    """The chat already has the maximum number of topics."""


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


def unsubscribe_topic(*, session: Session, chat_id: int, topic_id: int) -> Topic | None:
    """Drop the chat's subscription to the topic with this id; None when it had none."""
    topic = session.get(Topic, topic_id)
    if topic is None:
        return None
    return unsubscribe(session=session, chat_id=chat_id, canonical=topic.canonical)


def chat_topics(*, session: Session, chat_id: int) -> list[Topic]:
    """Return the chat's topics in the order they were added."""
    stmt = (
        select(Topic)
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
        .where(Subscription.chat_id == chat_id)
        .order_by(col(Subscription.created_at), col(Topic.id))
    )
    return list(session.exec(stmt))


def chat_canonicals(*, session: Session, chat_id: int) -> set[str]:
    """Return the canonical queries the chat follows."""
    stmt = (
        select(Topic.canonical)
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
        .where(Subscription.chat_id == chat_id)
    )
    return set(session.exec(stmt))
