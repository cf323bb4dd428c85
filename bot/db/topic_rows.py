"""Topic rows that many chats share: created and dropped safely while others use them.

Every topic created or deleted is also written to `topic_change`, which matching indexes in
every process catch up from (bot/ingest/topic_cache.py). Keyword-only arguments, no Telegram.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db.models import Subscription, Topic, TopicChange, utcnow
from bot.db.upsert import insert, is_postgres

# A topic dropped by one chat while another subscribes to it is created again; after this
# many rounds something else is wrong.
CREATE_ATTEMPTS = 5
# Transaction-level advisory lock that orders topic changes on PostgreSQL.
CHANGE_LOCK = int.from_bytes(
    hashlib.sha256(b"newsbot:topic_change").digest()[:8], "big", signed=True
)


def record_topic_changes(*, session: Session, topic_ids: Iterable[int]) -> None:
    """Note that these topics were created or deleted, for the matching indexes to catch up.

    On PostgreSQL a sequence value is taken at insert time but becomes visible at commit, so
    a reader could see change 8 before change 7 commits and step past 7 for ever. The
    advisory lock, held until commit, makes ids visible in the order they were taken. SQLite
    has one writer at a time, which gives the same order.
    """
    rows = [{"topic_id": t, "created_at": utcnow()} for t in dict.fromkeys(topic_ids)]
    if not rows:
        return
    if is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANGE_LOCK})
    session.execute(sa.insert(TopicChange), rows)


def topic_for_update(*, session: Session, canonical: str) -> Topic | None:
    """Return the topic with this canonical query, locked until commit (PostgreSQL)."""
    stmt = select(Topic).where(Topic.canonical == canonical).with_for_update()
    return session.exec(stmt).first()


def get_or_create_topic(*, session: Session, canonical: str, display: str) -> tuple[int, bool]:
    """Return the id of the topic with this canonical query, creating it if needed.

    The topic stays share-locked until commit on PostgreSQL, so a chat dropping it as its
    last subscriber can't delete it under a subscription being added. Returns (id, created).
    """
    for _ in range(CREATE_ATTEMPTS):
        created = session.execute(
            insert(session, Topic)
            .values(canonical=canonical, display=display, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["canonical"])
            .returning(col(Topic.id))
        ).scalar_one_or_none()
        if created is not None:
            record_topic_changes(session=session, topic_ids=[created])
            return int(created), True
        stmt = select(Topic.id).where(Topic.canonical == canonical).with_for_update(read=True)
        found = session.exec(stmt).first()
        if found is not None:
            return int(found), False
        # Deleted between the two statements (its last chat left): create it again.
    raise RuntimeError(f"topic {canonical!r} kept disappearing")


def drop_topic_if_orphan(*, session: Session, topic_id: int) -> bool:
    """Delete the topic when no chat follows it any more; return whether it went.

    The topic is locked first, so a subscription being added at the same moment either
    commits before the check (and the topic stays) or finds the topic gone and recreates it.
    """
    locked = session.exec(select(Topic.id).where(Topic.id == topic_id).with_for_update()).first()
    if locked is None:
        return False
    followed = session.exec(
        select(Subscription.chat_id).where(Subscription.topic_id == topic_id).limit(1)
    ).first()
    if followed is not None:
        return False
    session.execute(sa.delete(Topic).where(col(Topic.id) == topic_id))
    record_topic_changes(session=session, topic_ids=[topic_id])
    return True


def changes_since(*, session: Session, after: int) -> list[tuple[int, int]]:
    """Return (change id, topic id) of every change after `after`, oldest first."""
    stmt = (
        select(TopicChange.id, TopicChange.topic_id)
        .where(col(TopicChange.id) > after)
        .order_by(col(TopicChange.id))
    )
    return [(int(i), int(t)) for i, t in session.exec(stmt) if i is not None]


def change_bounds(*, session: Session) -> tuple[int, int]:
    """Return the oldest and newest change ids kept (0, 0 when there are none)."""
    row = session.execute(
        sa.select(sa.func.min(col(TopicChange.id)), sa.func.max(col(TopicChange.id)))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def topics_by_ids(*, session: Session, ids: Sequence[int]) -> dict[int, str]:
    """Return {topic id: display query} of those of the ids that exist."""
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for topic_id, display in session.exec(
            select(Topic.id, Topic.display).where(col(Topic.id).in_(chunk))
        ):
            if topic_id is not None:
                found[topic_id] = display
    return found


def all_topic_displays(*, session: Session) -> list[tuple[int, str]]:
    """Return (id, display query) of every topic, without loading whole rows."""
    stmt = sa.select(col(Topic.id), col(Topic.display)).order_by(col(Topic.id))
    return [(int(i), str(d)) for i, d in session.execute(stmt)]


def prune_topic_changes(*, session: Session, older_than: datetime) -> int:
    """Forget changes older than `older_than`, always keeping the newest one.

    The newest stays so ids keep growing (SQLite reuses the highest rowid once it is deleted)
    and an index that fell behind the oldest kept change knows to rebuild.
    """
    _, newest = change_bounds(session=session)
    result = session.execute(
        sa.delete(TopicChange).where(
            col(TopicChange.created_at) < older_than, col(TopicChange.id) < newest
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
