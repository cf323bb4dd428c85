"""Data access for operations: metrics snapshots and the sample feed of `newsbot shell`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db.models import Broadcast, Chat, Delivery, Entry, Feed


@dataclass(frozen=True, slots=True)
class BroadcastProgress:
    broadcast_id: int
    total: int
    sent: int
    failed: int
    pending: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Counts read at scrape time."""

    deliveries: dict[str, int] = field(default_factory=dict)  # by state
    due: int = 0
    feeds_enabled: int = 0
    feeds_disabled: int = 0
    feeds_failing: int = 0
    chats_active: int = 0
    chats_inactive: int = 0
    broadcasts: list[BroadcastProgress] = field(default_factory=list)


def snapshot(*, session: Session, now: datetime) -> Snapshot:
    """Count outbox rows by state, feeds, failing feeds, chats and sending broadcasts."""
    by_state = {
        str(state): int(n)
        for state, n in session.execute(
            sa.select(col(Delivery.state), sa.func.count()).group_by(col(Delivery.state))
        ).all()
    }
    due = session.execute(
        sa.select(sa.func.count()).where(
            col(Delivery.state) == "queued", col(Delivery.next_attempt_at) <= now
        )
    ).scalar_one()
    feeds = {
        bool(enabled): int(n)
        for enabled, n in session.execute(
            sa.select(col(Feed.enabled), sa.func.count()).group_by(col(Feed.enabled))
        ).all()
    }
    failing = session.execute(
        sa.select(sa.func.count()).where(col(Feed.enabled), col(Feed.error_count) > 0)
    ).scalar_one()
    chats = {
        bool(active): int(n)
        for active, n in session.execute(
            sa.select(col(Chat.active), sa.func.count()).group_by(col(Chat.active))
        ).all()
    }
    return Snapshot(
        deliveries=by_state,
        due=int(due),
        feeds_enabled=feeds.get(True, 0),
        feeds_disabled=feeds.get(False, 0),
        feeds_failing=int(failing),
        chats_active=chats.get(True, 0),
        chats_inactive=chats.get(False, 0),
        broadcasts=_sending_broadcasts(session=session),
    )


def _sending_broadcasts(*, session: Session) -> list[BroadcastProgress]:
    sending = list(session.exec(select(Broadcast).where(Broadcast.state == "sending")))
    if not sending:
        return []
    ids = [bc.id for bc in sending if bc.id is not None]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    rows = session.execute(
        sa.select(col(Delivery.broadcast_id), col(Delivery.state), sa.func.count())
        .where(col(Delivery.broadcast_id).in_(ids))
        .group_by(col(Delivery.broadcast_id), col(Delivery.state))
    ).all()
    for bc_id, state, n in rows:
        counts[int(bc_id)][str(state)] = int(n)
    progress = []
    for bc in sending:
        assert bc.id is not None
        c = counts[bc.id]
        progress.append(
            BroadcastProgress(
                broadcast_id=bc.id,
                total=bc.total,
                sent=c.get("sent", 0),
                failed=c.get("failed", 0) + c.get("cancelled", 0) + c.get("unknown", 0),
                pending=c.get("queued", 0) + c.get("sending", 0),
            )
        )
    return progress


def entry_seen_at(*, session: Session, delivery_id: int) -> datetime | None:
    """Return when the story of an alert was first seen."""
    return session.exec(
        select(Entry.seen_at)
        .join(Delivery, col(Delivery.entry_id) == col(Entry.id))
        .where(col(Delivery.id) == delivery_id)
    ).first()


def reset_feed(*, session: Session, url: str) -> Feed:
    """Store the feed afresh, due now: its old stories (and their outbox rows) are deleted."""
    session.execute(sa.delete(Feed).where(col(Feed.url) == url))
    feed = Feed(url=url)
    session.add(feed)
    session.flush()
    return feed


def set_feed_enabled(*, session: Session, url: str, enabled: bool) -> None:
    """Enable or disable a feed by URL."""
    session.execute(sa.update(Feed).where(col(Feed.url) == url).values(enabled=enabled))
