"""Chat rows: registering, pausing (403) and moving (group to supergroup). Keyword-only."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import preferences, upsert
from bot.db.models import (
    OPEN_STATES,
    Chat,
    Delivery,
    DeliveryState,
    StoryChat,
    Subscription,
    utcnow,
)


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
        .where(col(Delivery.chat_id) == chat_id, col(Delivery.state).in_(OPEN_STATES))
        .values(state=DeliveryState.CANCELLED, last_error=reason[:500])
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_chat_count(*, session: Session) -> int:
    """Return how many chats receive broadcasts."""
    stmt = select(sa.func.count()).select_from(Chat).where(col(Chat.active))
    return int(session.exec(stmt).one())


def migrate_chat(*, session: Session, old_id: int, new_id: int) -> None:
    """Move a chat that became a supergroup: its subscriptions and open messages follow.

    Rows being sent or queued for the old id are queued again at the new id (Telegram
    refused them there, so nothing was delivered), unless the new chat already has the same
    alert or broadcast.
    """
    old = session.get(Chat, old_id)
    session.execute(
        upsert.insert(session, Chat)
        .values(
            id=new_id,
            type="supergroup",
            title=old.title if old else None,
            language=old.language if old else None,
        )
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
    preferences.move_chat(session=session, old_id=old_id, new_id=new_id)
    # The chat's record of the story alerts it got follows, so it gets no second one.
    alerted = sa.select(
        col(StoryChat.story_id),
        sa.literal(new_id, type_=sa.BigInteger),
        col(StoryChat.edit_queued),
        col(StoryChat.edited_at),
        col(StoryChat.created_at),
    ).where(col(StoryChat.chat_id) == old_id)
    session.execute(
        upsert.insert(session, StoryChat)
        .from_select(["story_id", "chat_id", "edit_queued", "edited_at", "created_at"], alerted)
        .on_conflict_do_nothing(index_elements=["story_id", "chat_id"])
    )
    session.execute(sa.delete(StoryChat).where(col(StoryChat.chat_id) == old_id))
    at_new = session.exec(
        select(Delivery.entry_id, Delivery.broadcast_id).where(Delivery.chat_id == new_id)
    ).all()
    entries = {e for e, _ in at_new if e is not None}
    broadcasts = {b for _, b in at_new if b is not None}
    now = utcnow()
    for row in list(
        session.exec(
            select(Delivery).where(Delivery.chat_id == old_id, col(Delivery.state).in_(OPEN_STATES))
        )
    ):
        if row.entry_id in entries or row.broadcast_id in broadcasts:
            row.state = DeliveryState.CANCELLED
            row.last_error = f"chat migrated to {new_id}"
        else:
            row.chat_id = new_id
            row.state = DeliveryState.QUEUED
            row.next_attempt_at = now
        row.claimed_by = None
        row.claimed_at = None
        session.add(row)
    session.flush()
    if old is not None:
        old.active = False
        session.add(old)


def chat_language(*, session: Session, chat_id: int) -> str | None:
    """Return the chat's language, or None when it has none (or is unknown)."""
    stmt = select(Chat.language).where(Chat.id == chat_id)
    return session.exec(stmt).first()


def set_chat_language(
    *, session: Session, chat_id: int, language: str, only_if_unset: bool = False
) -> str | None:
    """Store the chat's language (the chat must exist); return the language it has now.

    With only_if_unset, a language the chat already has stays.
    """
    chat = _chat(session, chat_id)
    if chat.language is None or not only_if_unset:
        chat.language = language
        chat.updated_at = utcnow()
        session.add(chat)
        session.flush()
    return chat.language


def chat_languages(*, session: Session, chat_ids: Iterable[int]) -> dict[int, str]:
    """Return the language of each chat that has one (the outbox renders alerts in it)."""
    wanted = set(chat_ids)
    if not wanted:
        return {}
    stmt = select(Chat.id, Chat.language).where(
        col(Chat.id).in_(wanted), col(Chat.language).is_not(None)
    )
    return {chat_id: language for chat_id, language in session.exec(stmt) if language}
