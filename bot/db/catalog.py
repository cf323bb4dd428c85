"""The topic catalog: named topics offered as buttons. Keyword-only arguments, no Telegram."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import topic_rows, upsert
from bot.db.models import CatalogTopic, Subscription, utcnow
from bot.topics.catalog import CatalogEntry, CatalogError, name_key


@dataclass(frozen=True, slots=True)
class CatalogSave:
    topic: CatalogTopic
    created: bool
    # Chats moved from the topic's former query to the new one.
    moved: int


@dataclass(frozen=True, slots=True)
class CatalogSync:
    added: int
    updated: int
    removed: int


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
    old = topic_rows.topic_for_update(session=session, canonical=old_canonical)
    if old is None or old.id is None:
        return 0
    new_id, _ = topic_rows.get_or_create_topic(
        session=session, canonical=new_canonical, display=new_display
    )
    followers = sa.select(
        col(Subscription.chat_id),
        sa.literal(new_id),
        col(Subscription.thread_id),
        col(Subscription.created_at),
    ).where(col(Subscription.topic_id) == old.id)
    # Chats that follow both queries already have the new one.
    moved = session.execute(
        upsert.insert(session, Subscription)
        .from_select(["chat_id", "topic_id", "thread_id", "created_at"], followers)
        .on_conflict_do_nothing(index_elements=["chat_id", "topic_id"])
        .returning(col(Subscription.chat_id))
    ).all()
    session.execute(sa.delete(Subscription).where(col(Subscription.topic_id) == old.id))
    topic_rows.drop_topic_if_orphan(session=session, topic_id=old.id)
    return len(moved)


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
    # Two operators adding the same name at once: one adds it, the other updates it.
    added = session.execute(
        upsert.insert(session, CatalogTopic)
        .values(
            key=entry.key,
            name=entry.name,
            query=entry.query.display,
            canonical=entry.query.canonical,
            position=_next_position(session) if position is None else position,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(CatalogTopic.id))
    ).scalar_one_or_none()
    stmt = select(CatalogTopic).where(CatalogTopic.key == entry.key).with_for_update()
    row = session.exec(stmt.execution_options(populate_existing=True)).one()
    if added is not None:
        return CatalogSave(topic=row, created=True, moved=0)
    now = utcnow()
    created = not row.active
    moved = 0
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
