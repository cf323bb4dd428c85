"""The numbers operators look at: one query for /stats and for /metrics alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.db.broadcasts import BroadcastTally, sending_broadcasts
from bot.db.models import Chat, Delivery, DeliveryState, Feed, Subscription
from bot.db.stories import story_stats


@dataclass(frozen=True, slots=True)
class Stats:
    """Chats, subscriptions, feeds, the outbox and the broadcasts being sent, counted now."""

    chats_active: int = 0
    chats_inactive: int = 0
    subscriptions: int = 0
    feeds_healthy: int = 0
    feeds_failing: int = 0
    feeds_disabled: int = 0
    alerts_sent_24h: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)  # outbox rows by state
    due: int = 0  # queued rows whose send time has come
    broadcasts: list[BroadcastTally] = field(default_factory=list)  # those being sent
    stories_24h: int = 0  # stories with a report in the last 24 hours
    story_sources_avg: float = 0.0  # their average number of reports

    @property
    def feeds_enabled(self) -> int:
        return self.feeds_healthy + self.feeds_failing

    def outbox(self, state: DeliveryState) -> int:
        """Return how many outbox rows are in `state`."""
        return self.deliveries.get(state, 0)


def read_stats(*, session: Session, now: datetime) -> Stats:
    """Count everything in one transaction, so the numbers agree with one another."""

    def count(stmt: sa.Select[Any]) -> int:
        return int(session.execute(stmt).scalar_one() or 0)

    n = sa.func.count()
    chats = {
        bool(active): int(k)
        for active, k in session.execute(
            sa.select(col(Chat.active), n).group_by(col(Chat.active))
        ).all()
    }
    enabled = col(Feed.enabled)
    by_state = {
        str(state): int(k)
        for state, k in session.execute(
            sa.select(col(Delivery.state), n).group_by(col(Delivery.state))
        ).all()
    }
    stories_24h, sources_avg = story_stats(session=session, since=now - timedelta(hours=24))
    return Stats(
        stories_24h=stories_24h,
        story_sources_avg=sources_avg,
        chats_active=chats.get(True, 0),
        chats_inactive=chats.get(False, 0),
        subscriptions=count(sa.select(n).select_from(Subscription)),
        feeds_healthy=count(sa.select(n).where(enabled, col(Feed.error_count) == 0)),
        feeds_failing=count(sa.select(n).where(enabled, col(Feed.error_count) > 0)),
        feeds_disabled=count(sa.select(n).select_from(Feed).where(sa.not_(enabled))),
        alerts_sent_24h=count(
            sa.select(n).where(
                col(Delivery.state) == DeliveryState.SENT,
                col(Delivery.entry_id).is_not(None),
                col(Delivery.sent_at) >= now - timedelta(hours=24),
            )
        ),
        deliveries=by_state,
        due=count(
            sa.select(n).where(
                col(Delivery.state) == DeliveryState.QUEUED, col(Delivery.next_attempt_at) <= now
            )
        ),
        broadcasts=sending_broadcasts(session=session),
    )
