"""Data access for the topic catalog and a chat's topics: keyword-only arguments, no Telegram."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import repo
from bot.db.models import CatalogTopic, Subscription, Topic, utcnow
from bot.topics.catalog import CatalogEntry, CatalogError, name_key


@dataclass(frozen=True, slots=True)
class ChatTopic:
    """One of a chat's topics as shown to it: the catalog name when there is one."""

    topic_id: int
    label: str
    catalog: bool


@dataclass(frozen=True, slots=True)
class CatalogSave:
    topic: CatalogTopic
    created: bool
    # Chats moved from the topic's former query to the new one.
    moved: int


@dataclass(frozen=True, slots=True)
class CatalogToggle:
    topic: CatalogTopic
    subscribed: bool


@dataclass(frozen=True, slots=True)
class CatalogSync:
    added: int
    updated: int
    removed: int


# --- the catalog ---------------------------------------------------------------------------


def catalog_topics(*, session: Session) -> list[CatalogTopic]:
    """Return the catalog in the order it is shown."""
    stmt = (
        select(CatalogTopic)
        .where(col(CatalogTopic.active))
        .order_by(col(CatalogTopic.position), col(CatalogTopic.id))
    )
    return list(session.exec(stmt))


def catalog_topic(*, session: Session, catalog_id: int) -> CatalogTopic | None:
    """Return the catalog topic with this id, unless it was removed."""
    row = session.get(CatalogTopic, catalog_id)
    return row if row is not None and row.active else None


def find_catalog_topic(*, session: Session, name: str) -> CatalogTopic | None:
    """Return the catalog topic called name (any case), unless it was removed."""
    stmt = select(CatalogTopic).where(CatalogTopic.key == name_key(name), col(CatalogTopic.active))
    return session.exec(stmt).first()


def catalog_names(*, session: Session) -> dict[str, str]:
    """Return {canonical query: catalog name} of the catalog."""
    return {row.canonical: row.name for row in catalog_topics(session=session)}


def _move_subscriptions(
    *, session: Session, old_canonical: str, new_canonical: str, new_display: str
) -> int:
    """Move the chats following one query to another; return how many moved."""
    old = session.exec(select(Topic).where(Topic.canonical == old_canonical)).first()
    if old is None or old.id is None:
        return 0
    new = session.exec(select(Topic).where(Topic.canonical == new_canonical)).first()
    if new is None:
        new = Topic(canonical=new_canonical, display=new_display)
        session.add(new)
        session.flush()
    have = set(session.exec(select(Subscription.chat_id).where(Subscription.topic_id == new.id)))
    moved = 0
    for sub in list(session.exec(select(Subscription).where(Subscription.topic_id == old.id))):
        if sub.chat_id not in have:
            assert new.id is not None
            session.add(
                Subscription(
                    chat_id=sub.chat_id,
                    topic_id=new.id,
                    thread_id=sub.thread_id,
                    created_at=sub.created_at,
                )
            )
            moved += 1
        session.delete(sub)
    session.flush()
    session.delete(old)
    session.flush()
    return moved


def _same_query(*, session: Session, entry: CatalogEntry) -> CatalogTopic | None:
    stmt = select(CatalogTopic).where(
        CatalogTopic.canonical == entry.query.canonical,
        CatalogTopic.key != entry.key,
        col(CatalogTopic.active),
    )
    return session.exec(stmt).first()


def _next_position(session: Session) -> int:
    top = session.exec(select(sa.func.max(col(CatalogTopic.position)))).one()
    return int(top or 0) + 1


def save_catalog_topic(
    *,
    session: Session,
    entry: CatalogEntry,
    position: int | None = None,
    check_twin: bool = True,
) -> CatalogSave:
    """Add the topic, or give the one of that name the new query; its chats follow along.

    Raise CatalogError when another catalog topic has the same query (unless the caller
    checked the whole catalog itself: `check_twin=False`).
    """
    twin = _same_query(session=session, entry=entry) if check_twin else None
    if twin is not None:
        raise CatalogError(f"{twin.name} already has this query.")
    row = session.exec(select(CatalogTopic).where(CatalogTopic.key == entry.key)).first()
    now = utcnow()
    created = row is None or not row.active
    moved = 0
    if row is None:
        row = CatalogTopic(
            key=entry.key,
            name=entry.name,
            query=entry.query.display,
            canonical=entry.query.canonical,
            position=_next_position(session) if position is None else position,
        )
    else:
        if row.active and row.canonical != entry.query.canonical:
            moved = _move_subscriptions(
                session=session,
                old_canonical=row.canonical,
                new_canonical=entry.query.canonical,
                new_display=entry.query.display,
            )
        if not row.active and position is None:
            row.position = _next_position(session)
        elif position is not None:
            row.position = position
        row.name = entry.name
        row.query = entry.query.display
        row.canonical = entry.query.canonical
        row.active = True
        row.updated_at = now
    session.add(row)
    session.flush()
    return CatalogSave(topic=row, created=created, moved=moved)


def remove_catalog_topic(*, session: Session, name: str) -> CatalogTopic | None:
    """Take the topic out of the catalog; chats following it keep its query."""
    row = find_catalog_topic(session=session, name=name)
    if row is None:
        return None
    row.active = False
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def sync_catalog(
    *, session: Session, entries: Sequence[CatalogEntry], replace: bool
) -> CatalogSync:
    """Apply the catalog of the start-up plan.

    With `replace`, the catalog becomes exactly `entries` (in their order). Without it, only
    topics never stored before are added: names an operator removed stay removed.
    """
    rows = {row.key: row for row in session.exec(select(CatalogTopic))}
    added = updated = removed = 0
    if replace:
        wanted = {e.key for e in entries}
        for row in rows.values():
            if row.active and row.key not in wanted:
                row.active = False
                row.updated_at = utcnow()
                session.add(row)
                removed += 1
        session.flush()
    base = _next_position(session) if not replace else 0
    for index, entry in enumerate(entries):
        stored = rows.get(entry.key)
        if not replace and (stored is not None or _same_query(session=session, entry=entry)):
            continue
        unchanged = (
            stored is not None
            and stored.active
            and stored.canonical == entry.query.canonical
            and stored.name == entry.name
            and stored.position == base + index
        )
        if unchanged:
            continue
        outcome = save_catalog_topic(
            session=session, entry=entry, position=base + index, check_twin=not replace
        )
        if outcome.created:
            added += 1
        else:
            updated += 1
    return CatalogSync(added=added, updated=updated, removed=removed)


# --- a chat's topics ---------------------------------------------------------------------


def chat_topic_list(*, session: Session, chat_id: int) -> list[ChatTopic]:
    """Return the chat's topics in the order they were added, named as the catalog names them."""
    names = catalog_names(session=session)
    topics = repo.chat_topics(session=session, chat_id=chat_id)
    found = []
    for topic in topics:
        assert topic.id is not None
        name = names.get(topic.canonical)
        found.append(
            ChatTopic(topic_id=topic.id, label=name or topic.display, catalog=name is not None)
        )
    return found


def chat_canonicals(*, session: Session, chat_id: int) -> set[str]:
    """Return the canonical queries the chat follows."""
    stmt = (
        select(Topic.canonical)
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
        .where(Subscription.chat_id == chat_id)
    )
    return set(session.exec(stmt))


def unsubscribe_topic(*, session: Session, chat_id: int, topic_id: int) -> Topic | None:
    """Drop the chat's subscription to the topic with this id; None when it had none."""
    topic = session.get(Topic, topic_id)
    if topic is None:
        return None
    return repo.unsubscribe(session=session, chat_id=chat_id, canonical=topic.canonical)


def toggle_catalog_topic(
    *, session: Session, chat_id: int, catalog_id: int, thread_id: int | None
) -> CatalogToggle | None:
    """Follow the catalog topic, or stop following it; None when it left the catalog.

    Raise repo.TopicLimitError when the chat already follows as many topics as allowed.
    """
    row = catalog_topic(session=session, catalog_id=catalog_id)
    if row is None:
        return None
    dropped = repo.unsubscribe(session=session, chat_id=chat_id, canonical=row.canonical)
    if dropped is not None:
        return CatalogToggle(topic=row, subscribed=False)
    repo.subscribe(
        session=session,
        chat_id=chat_id,
        canonical=row.canonical,
        display=row.query,
        thread_id=thread_id,
    )
    return CatalogToggle(topic=row, subscribed=True)
