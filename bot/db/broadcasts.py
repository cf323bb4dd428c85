"""Operator broadcasts: drafts, confirming (one INSERT queues every chat), tallies, finishing.

Keyword-only arguments; every function works inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.db.models import (
    FAILED_STATES,
    OPEN_STATES,
    Broadcast,
    BroadcastState,
    Chat,
    Delivery,
    DeliveryState,
    Priority,
    UTCDateTime,
    utcnow,
)

DELIVERY = SQLModel.metadata.tables["delivery"]


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def create_broadcast(*, session: Session, admin_user_id: int, admin_chat_id: int, text: str) -> int:
    """Store a draft broadcast and return its id."""
    bc = Broadcast(admin_user_id=admin_user_id, admin_chat_id=admin_chat_id, text=text)
    session.add(bc)
    session.flush()
    assert bc.id is not None
    return bc.id


def set_broadcast_message(*, session: Session, broadcast_id: int, message_id: int) -> None:
    """Remember the preview message, so progress can be shown there."""
    bc = session.get(Broadcast, broadcast_id)
    if bc is not None:
        bc.admin_message_id = message_id
        session.add(bc)


def confirm_broadcast(*, session: Session, broadcast_id: int) -> Broadcast | None:
    """Queue the draft for every active chat; None when it is not a draft any more.

    One INSERT … SELECT queues every row, so even 100,000 chats take one statement and the
    sender's own writes wait only for that.
    """
    now = utcnow()
    # Draft to sending in one statement: of two presses of Confirm at once, one wins.
    if not _leave_draft(
        session=session, broadcast_id=broadcast_id, state=BroadcastState.SENDING, now=now
    ):
        return None
    chats = sa.select(
        col(Chat.id),
        sa.literal(broadcast_id),
        sa.literal(DeliveryState.QUEUED.value),
        sa.literal(int(Priority.BROADCAST)),
        sa.literal(0),
        sa.literal(now, type_=UTCDateTime()),
        sa.literal(now, type_=UTCDateTime()),
    ).where(col(Chat.active))
    session.execute(
        sa.insert(DELIVERY).from_select(
            [
                "chat_id",
                "broadcast_id",
                "state",
                "priority",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            chats,
        )
    )
    total = session.execute(
        sa.select(sa.func.count()).where(col(Delivery.broadcast_id) == broadcast_id)
    ).scalar_one()
    session.execute(
        sa.update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id)
        .values(total=int(total))
        .execution_options(synchronize_session=False)
    )
    return session.get(Broadcast, broadcast_id, populate_existing=True)


def cancel_broadcast(*, session: Session, broadcast_id: int) -> Broadcast | None:
    """Cancel a draft; None when it is not a draft any more."""
    if not _leave_draft(
        session=session, broadcast_id=broadcast_id, state=BroadcastState.CANCELLED, now=utcnow()
    ):
        return None
    return session.get(Broadcast, broadcast_id, populate_existing=True)


def _leave_draft(
    *, session: Session, broadcast_id: int, state: BroadcastState, now: datetime
) -> bool:
    """Move a draft to `state`; False when it is not a draft (any more)."""
    stamp = {"confirmed_at": now} if state == BroadcastState.SENDING else {"finished_at": now}
    result = session.execute(
        sa.update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.state) == BroadcastState.DRAFT)
        .values(state=state, **stamp)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


@dataclass(frozen=True, slots=True)
class BroadcastTally:
    """A broadcast's deliveries by outcome: failed counts failed, cancelled and dead rows;
    unknown (the connection broke mid-send, so it may have arrived) is counted apart."""

    broadcast_id: int
    total: int  # chats it was queued for
    sent: int
    failed: int
    pending: int
    unknown: int
    admin_chat_id: int
    admin_message_id: int | None  # the preview, where progress is shown
    confirmed_at: datetime | None
    finished_at: datetime | None


def _tallies(*, session: Session, broadcasts: Sequence[Broadcast]) -> list[BroadcastTally]:
    ids = [bc.id for bc in broadcasts if bc.id is not None]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        stmt = (
            sa.select(col(Delivery.broadcast_id), col(Delivery.state), sa.func.count())
            .where(col(Delivery.broadcast_id).in_(ids))
            .group_by(col(Delivery.broadcast_id), col(Delivery.state))
        )
        for bc_id, state, n in session.execute(stmt).all():
            counts[int(bc_id)][str(state)] = int(n)
    tallies = []
    for bc in broadcasts:
        assert bc.id is not None
        c = counts.get(bc.id, {})
        tallies.append(
            BroadcastTally(
                broadcast_id=bc.id,
                total=bc.total,
                sent=c.get(DeliveryState.SENT, 0),
                failed=sum(c.get(s, 0) for s in FAILED_STATES),
                pending=sum(c.get(s, 0) for s in OPEN_STATES),
                unknown=c.get(DeliveryState.UNKNOWN, 0),
                admin_chat_id=bc.admin_chat_id,
                admin_message_id=bc.admin_message_id,
                confirmed_at=bc.confirmed_at,
                finished_at=bc.finished_at,
            )
        )
    return tallies


def sending_broadcasts(*, session: Session) -> list[BroadcastTally]:
    """Return the tallies of broadcasts being sent, oldest first."""
    stmt = (
        select(Broadcast)
        .where(Broadcast.state == BroadcastState.SENDING)
        .order_by(col(Broadcast.id))
    )
    return _tallies(session=session, broadcasts=list(session.exec(stmt)))


def recent_broadcasts(*, session: Session, limit: int = 5) -> list[BroadcastTally]:
    """Return the tallies of the newest confirmed broadcasts, newest first."""
    stmt = (
        select(Broadcast)
        .where(col(Broadcast.state).in_((BroadcastState.SENDING, BroadcastState.DONE)))
        .order_by(col(Broadcast.id).desc())
        .limit(limit)
    )
    return _tallies(session=session, broadcasts=list(session.exec(stmt)))


def finish_broadcast(*, session: Session, broadcast_id: int) -> bool:
    """Mark the broadcast done; False when it was already (another process got there first)."""
    result = session.execute(
        sa.update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.state) == BroadcastState.SENDING)
        .values(state=BroadcastState.DONE, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1
