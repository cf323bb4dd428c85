"""Stories seen in feeds: what is known, storing new ones, the newest, pruning. Keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.db.models import OPEN_STATES, Delivery, Entry, Feed

_CHUNK = 500
ENTRY = SQLModel.metadata.tables["entry"]


def known_keys(*, session: Session, feed_id: int, keys: Sequence[str]) -> set[str]:
    """Return which of `keys` are already stored for the feed."""
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        found.update(
            session.exec(
                select(Entry.key).where(Entry.feed_id == feed_id, col(Entry.key).in_(chunk))
            )
        )
    return found


def known_link_keys(*, session: Session, link_keys: Sequence[str]) -> set[str]:
    """Return which canonical links are already stored from any feed."""
    found: set[str] = set()
    for start in range(0, len(link_keys), _CHUNK):
        chunk = link_keys[start : start + _CHUNK]
        found.update(
            k
            for k in session.exec(select(Entry.link_key).where(col(Entry.link_key).in_(chunk)))
            if k is not None
        )
    return found


def touch_entries(*, session: Session, feed_id: int, keys: Sequence[str], when: datetime) -> None:
    """Record that the feed's content still carries these entries."""
    for start in range(0, len(keys), _CHUNK):
        chunk = list(keys[start : start + _CHUNK])
        session.execute(
            sa.update(Entry)
            .where(col(Entry.feed_id) == feed_id, col(Entry.key).in_(chunk))
            .values(last_seen_at=when)
        )


def insert_entries(*, session: Session, entries: Sequence[Entry]) -> None:
    """Insert new entries in one multi-row statement and give each its id."""
    if not entries:
        return
    columns = [c.name for c in ENTRY.columns if c.name != "id"]
    rows = [{name: getattr(entry, name) for name in columns} for entry in entries]
    ids = session.scalars(
        sa.insert(ENTRY).returning(ENTRY.c.id, sort_by_parameter_order=True), rows
    ).all()
    for entry, entry_id in zip(entries, ids, strict=True):
        entry.id = int(entry_id)


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


def retention_cutoff(*, now: datetime, days: int) -> datetime:
    """Return the time before which entries are pruned."""
    return now - timedelta(days=days)


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
            col(Delivery.state).in_(OPEN_STATES),
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
