"""Outbox data access: claims, send outcomes, sender heartbeats, broadcasts and counts.

Every function is one unit of work inside the caller's session; keyword-only arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.db import repo
from bot.db.models import (
    Broadcast,
    Chat,
    Delivery,
    Entry,
    Feed,
    OutboxSender,
    Subscription,
    UTCDateTime,
    utcnow,
)

ALERT = 0
BROADCAST = 1
OPEN_STATES = ("queued", "sending")
FAILED_STATES = ("failed", "cancelled", "dead")
# Core table for executemany updates (an ORM update with many parameter sets means
# "bulk update by primary key", which wants the parameters named after the columns).
DELIVERY = SQLModel.metadata.tables["delivery"]
# A due row whose chat already has one in this claim waits this long per row ahead of it.
CHAT_GAP = timedelta(seconds=1)
GROUP_GAP = timedelta(seconds=3)


def db_now(*, session: Session) -> datetime:
    """Return the database server's clock on PostgreSQL (one clock for every process)."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.execute(sa.text("SELECT now()")).scalar_one()
        assert isinstance(value, datetime)
        return value
    return utcnow()


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _gap(chat_id: int) -> timedelta:
    return GROUP_GAP if chat_id < 0 else CHAT_GAP


def _shard_filter(shard: tuple[int, int]) -> sa.ColumnElement[bool]:
    index, count = shard
    if count <= 1:
        return sa.true()
    return sa.func.abs(col(Delivery.chat_id)) % count == index


# --- claims ---------------------------------------------------------------------------------


def claim_due(
    *,
    session: Session,
    owner: str,
    now: datetime,
    limit: int,
    claimed_at: datetime | None = None,
    busy: Mapping[int, datetime] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[Delivery]:
    """Claim up to `limit` due rows for `owner`, at most one per chat; alerts before broadcasts.

    A due row that can't go now (its chat is `busy` until the given time, or already has a row
    in this claim) is moved to when its chat is free, so a chat with a long backlog never
    fills the claim and other chats are never held up behind it. On PostgreSQL rows locked by
    another sender's claim are skipped (FOR UPDATE SKIP LOCKED); the update re-checks the
    state, so two claims never take one row on any database. `claimed_at` (default `now`)
    stamps the lease; pass the database clock when several hosts send.
    """
    busy = busy or {}
    taken: list[int] = []
    chats: set[int] = set()
    crowded: dict[int, datetime] = {}  # chat -> when its first waiting row may go
    postgres = session.get_bind().dialect.name == "postgresql"
    for priority in (ALERT, BROADCAST):
        need = limit - len(taken)
        if need <= 0:
            break
        stmt = (
            select(Delivery.id, Delivery.chat_id)
            .where(
                Delivery.state == "queued",
                Delivery.priority == priority,
                col(Delivery.next_attempt_at) <= now,
                _shard_filter(shard),
            )
            .order_by(col(Delivery.next_attempt_at))
            .limit(need * 2 + 16)
        )
        if postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        for delivery_id, chat_id in session.exec(stmt).all():
            assert delivery_id is not None
            ready = busy.get(chat_id)
            if chat_id in chats:
                crowded.setdefault(chat_id, now + _gap(chat_id))
            elif ready is not None and ready > now:
                crowded.setdefault(chat_id, ready)
            elif len(taken) < limit:
                taken.append(delivery_id)
                chats.add(chat_id)
    later: list[dict[str, object]] = []
    for chat_id, start in crowded.items():
        # Spread all of the chat's due rows over its turns in one go, so later claims see at
        # most one of them due at a time.
        waiting = (
            select(Delivery.id)
            .where(
                Delivery.chat_id == chat_id,
                Delivery.state == "queued",
                col(Delivery.next_attempt_at) <= now,
                col(Delivery.id).not_in(taken),
            )
            .order_by(col(Delivery.priority), col(Delivery.next_attempt_at), col(Delivery.id))
        )
        if postgres:
            waiting = waiting.with_for_update(skip_locked=True)
        later.extend(
            {"b_id": delivery_id, "b_at": start + _gap(chat_id) * n}
            for n, delivery_id in enumerate(session.exec(waiting).all())
        )
    if later:
        session.execute(
            sa.update(DELIVERY)
            .where(DELIVERY.c.id == sa.bindparam("b_id"), DELIVERY.c.state == "queued")
            .values(next_attempt_at=sa.bindparam("b_at")),
            later,
        )
    if not taken:
        return []
    claimed = session.execute(
        sa.update(Delivery)
        .where(col(Delivery.id).in_(taken), col(Delivery.state) == "queued")
        .values(
            state="sending",
            claimed_by=owner,
            claimed_at=claimed_at or now,
            attempts=col(Delivery.attempts) + 1,
        )
        .returning(col(Delivery.id))
        .execution_options(synchronize_session=False)
    )
    ids = [int(i) for i in claimed.scalars()]
    if not ids:
        return []
    rows = session.exec(select(Delivery).where(col(Delivery.id).in_(ids))).all()
    order = {delivery_id: n for n, delivery_id in enumerate(taken)}
    return sorted(rows, key=lambda r: order.get(r.id or 0, 0))


def release(*, session: Session, owner: str, ids: Sequence[int]) -> int:
    """Put rows the owner claimed but never started back in the queue, attempt uncounted."""
    count = 0
    for start in range(0, len(ids), 500):
        result = session.execute(
            sa.update(Delivery)
            .where(
                col(Delivery.id).in_(ids[start : start + 500]),
                col(Delivery.claimed_by) == owner,
                col(Delivery.state) == "sending",
            )
            .values(
                state="queued",
                claimed_by=None,
                claimed_at=None,
                attempts=col(Delivery.attempts) - 1,
            )
            .execution_options(synchronize_session=False)
        )
        count += _rowcount(result)
    return count


def next_due_at(*, session: Session, shard: tuple[int, int] = (0, 1)) -> datetime | None:
    """Return when the next queued row becomes due."""
    return session.exec(
        select(sa.func.min(Delivery.next_attempt_at)).where(
            Delivery.state == "queued", _shard_filter(shard)
        )
    ).one()


# --- senders: heartbeats and leases -----------------------------------------------------------


def heartbeat(*, session: Session, sender_id: str, now: datetime, stale_after: float) -> list[str]:
    """Record that the sender is alive; return the ids of every live sender, sorted."""
    result = session.execute(
        sa.update(OutboxSender)
        .where(col(OutboxSender.id) == sender_id)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) == 0:
        session.add(OutboxSender(id=sender_id, started_at=now, heartbeat_at=now))
        session.flush()
    cutoff = now - timedelta(seconds=stale_after)
    stmt = select(OutboxSender.id).where(col(OutboxSender.heartbeat_at) >= cutoff)
    return sorted(session.exec(stmt).all())


def reclaim_abandoned(*, session: Session, now: datetime, stale_after: float) -> int:
    """Requeue rows held by senders that stopped beating; forget long-dead senders.

    A row is taken back only when its owner has been silent for `stale_after` seconds AND
    the claim itself is that old: a sender that registered a moment ago can't lose a claim
    it just made, whatever this statement's snapshot saw.
    """
    cutoff = now - timedelta(seconds=stale_after)
    live = select(OutboxSender.id).where(col(OutboxSender.heartbeat_at) >= cutoff)
    result = session.execute(
        sa.update(Delivery)
        .where(
            col(Delivery.state) == "sending",
            sa.or_(col(Delivery.claimed_at).is_(None), col(Delivery.claimed_at) < cutoff),
            sa.or_(col(Delivery.claimed_by).is_(None), col(Delivery.claimed_by).not_in(live)),
        )
        .values(state="queued", claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.delete(OutboxSender).where(
            col(OutboxSender.heartbeat_at) < now - timedelta(seconds=stale_after * 10)
        )
    )
    return _rowcount(result)


def retire(*, session: Session, sender_id: str) -> None:
    """Remove a sender that stopped cleanly, so the others take its share at once."""
    session.execute(sa.delete(OutboxSender).where(col(OutboxSender.id) == sender_id))


# --- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendResult:
    """What became of one claimed row; written in batches by `record_results`."""

    delivery_id: int
    chat_id: int
    state: str  # sent, queued (retry), failed, dead, unknown, released
    at: datetime  # when it was sent, or when to try again
    error: str | None = None
    count_attempt: bool = True
    deactivate: bool = False
    migrate_to: int | None = None
    hold_chat_until: datetime | None = None


@dataclass(slots=True)
class RecordReport:
    sent: int = 0
    retried: int = 0
    closed: int = 0
    deactivated: list[tuple[int, int]] = field(default_factory=list)  # (chat, cancelled rows)
    migrated: list[tuple[int, int]] = field(default_factory=list)  # (old chat, new chat)


def record_results(*, session: Session, owner: str, results: Sequence[SendResult]) -> RecordReport:
    """Write a batch of send outcomes in the caller's transaction.

    Sent rows are written unconditionally (the message is out, whoever holds the row now);
    every other outcome applies only while the row is still this owner's claim, so a row
    cancelled or taken over meanwhile is left alone.
    """
    report = RecordReport()
    sent = [
        {"b_id": r.delivery_id, "b_at": r.at}
        for r in results
        if r.state == "sent" and r.migrate_to is None
    ]
    if sent:
        session.execute(
            sa.update(DELIVERY)
            .where(DELIVERY.c.id == sa.bindparam("b_id"))
            .values(
                state="sent",
                sent_at=sa.bindparam("b_at"),
                last_error=None,
                claimed_by=None,
                claimed_at=None,
            ),
            sent,
        )
        report.sent = len(sent)
    mine = (col(Delivery.claimed_by) == owner, col(Delivery.state) == "sending")
    for r in results:
        if r.state == "sent":
            continue
        where = (col(Delivery.id) == r.delivery_id, *mine)
        if r.migrate_to is not None:
            repo.migrate_chat(session=session, old_id=r.chat_id, new_id=r.migrate_to)
            report.migrated.append((r.chat_id, r.migrate_to))
            continue
        if r.state in ("queued", "released"):
            values: dict[str, object] = {
                "state": "queued",
                "next_attempt_at": r.at,
                "claimed_by": None,
                "claimed_at": None,
            }
            if r.error is not None:
                values["last_error"] = r.error[:500]
            if not r.count_attempt:
                values["attempts"] = col(Delivery.attempts) - 1
            session.execute(
                sa.update(Delivery)
                .where(*where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            report.retried += 1
        else:
            session.execute(
                sa.update(Delivery)
                .where(*where)
                .values(
                    state=r.state,
                    last_error=(r.error or "")[:500] or None,
                    claimed_by=None,
                    claimed_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            report.closed += 1
        if r.hold_chat_until is not None:
            hold_chat(session=session, chat_id=r.chat_id, until=r.hold_chat_until)
        if r.deactivate:
            cancelled = repo.deactivate_chat(
                session=session, chat_id=r.chat_id, reason=r.error or "unreachable"
            )
            report.deactivated.append((r.chat_id, cancelled))
    return report


def hold_chat(*, session: Session, chat_id: int, until: datetime) -> int:
    """Keep the chat's queued rows back until `until` (after a 429 for that chat)."""
    result = session.execute(
        sa.update(Delivery)
        .where(
            col(Delivery.chat_id) == chat_id,
            col(Delivery.state) == "queued",
            col(Delivery.next_attempt_at) < until,
        )
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def deliveries_payload(
    *, session: Session, entry_ids: Iterable[int], broadcast_ids: Iterable[int]
) -> tuple[dict[int, Entry], dict[int, Broadcast], dict[int, str]]:
    """Load the entries, broadcasts and feed names claimed rows need."""
    wanted_entries, wanted_broadcasts = set(entry_ids), set(broadcast_ids)
    entries: dict[int, Entry] = {}
    if wanted_entries:
        for e in session.exec(select(Entry).where(col(Entry.id).in_(wanted_entries))):
            if e.id is not None:
                entries[e.id] = e
    broadcasts: dict[int, Broadcast] = {}
    if wanted_broadcasts:
        for b in session.exec(select(Broadcast).where(col(Broadcast.id).in_(wanted_broadcasts))):
            if b.id is not None:
                broadcasts[b.id] = b
    names = repo.feed_titles(session=session, feed_ids=(e.feed_id for e in entries.values()))
    return entries, broadcasts, names


# --- broadcasts -------------------------------------------------------------------------------


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
    if not _leave_draft(session=session, broadcast_id=broadcast_id, state="sending", now=now):
        return None
    chats = sa.select(
        col(Chat.id),
        sa.literal(broadcast_id),
        sa.literal("queued"),
        sa.literal(BROADCAST),
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
        session=session, broadcast_id=broadcast_id, state="cancelled", now=utcnow()
    ):
        return None
    return session.get(Broadcast, broadcast_id, populate_existing=True)


def _leave_draft(*, session: Session, broadcast_id: int, state: str, now: datetime) -> bool:
    """Move a draft to `state`; False when it is not a draft (any more)."""
    stamp = {"confirmed_at": now} if state == "sending" else {"finished_at": now}
    result = session.execute(
        sa.update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.state) == "draft")
        .values(state=state, **stamp)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


@dataclass(frozen=True, slots=True)
class BroadcastTally:
    broadcast: Broadcast
    sent: int
    failed: int
    pending: int
    unknown: int = 0


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
        c = counts.get(bc.id or 0, {})
        tallies.append(
            BroadcastTally(
                broadcast=bc,
                sent=c.get("sent", 0),
                failed=sum(c.get(s, 0) for s in FAILED_STATES),
                pending=sum(c.get(s, 0) for s in OPEN_STATES),
                unknown=c.get("unknown", 0),
            )
        )
    return tallies


def broadcast_tally(*, session: Session, broadcast_id: int) -> BroadcastTally | None:
    """Count the broadcast's deliveries by outcome."""
    bc = session.get(Broadcast, broadcast_id)
    if bc is None:
        return None
    return _tallies(session=session, broadcasts=[bc])[0]


def sending_broadcasts(*, session: Session) -> list[BroadcastTally]:
    """Return the tallies of broadcasts being sent, oldest first."""
    stmt = select(Broadcast).where(Broadcast.state == "sending").order_by(col(Broadcast.id))
    return _tallies(session=session, broadcasts=list(session.exec(stmt)))


def recent_broadcasts(*, session: Session, limit: int = 5) -> list[BroadcastTally]:
    """Return the tallies of the newest confirmed broadcasts, newest first."""
    stmt = (
        select(Broadcast)
        .where(col(Broadcast.state).in_(("sending", "done")))
        .order_by(col(Broadcast.id).desc())
        .limit(limit)
    )
    return _tallies(session=session, broadcasts=list(session.exec(stmt)))


def finish_broadcast(*, session: Session, broadcast_id: int) -> bool:
    """Mark the broadcast done; False when it was already (another process got there first)."""
    result = session.execute(
        sa.update(Broadcast)
        .where(col(Broadcast.id) == broadcast_id, col(Broadcast.state) == "sending")
        .values(state="done", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# --- counts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotStats:
    chats_active: int
    chats_inactive: int
    subscriptions: int
    feeds_healthy: int
    feeds_failing: int
    feeds_disabled: int
    alerts_sent_24h: int
    queued: int
    sending: int
    dead: int
    unknown: int


def bot_stats(*, session: Session, now: datetime) -> BotStats:
    """Count what an operator wants to see at a glance."""

    def count(stmt: sa.Select[Any]) -> int:
        return int(session.execute(stmt).scalar_one() or 0)

    n = sa.func.count()
    chats = {
        bool(active): int(count)
        for active, count in session.execute(
            sa.select(col(Chat.active), n).group_by(col(Chat.active))
        ).all()
    }
    subs = count(sa.select(n).select_from(Subscription))
    enabled = col(Feed.enabled)
    healthy = count(sa.select(n).where(enabled, col(Feed.error_count) == 0))
    failing = count(sa.select(n).where(enabled, col(Feed.error_count) > 0))
    disabled = count(sa.select(n).select_from(Feed).where(sa.not_(enabled)))
    alerts = count(
        sa.select(n).where(
            col(Delivery.state) == "sent",
            col(Delivery.entry_id).is_not(None),
            col(Delivery.sent_at) >= now - timedelta(hours=24),
        )
    )
    states = {
        str(state): int(count)
        for state, count in session.execute(
            sa.select(col(Delivery.state), n)
            .where(col(Delivery.state).in_(("queued", "sending", "dead", "unknown")))
            .group_by(col(Delivery.state))
        ).all()
    }
    return BotStats(
        chats_active=int(chats.get(True, 0)),
        chats_inactive=int(chats.get(False, 0)),
        subscriptions=subs,
        feeds_healthy=healthy,
        feeds_failing=failing,
        feeds_disabled=disabled,
        alerts_sent_24h=alerts,
        queued=int(states.get("queued", 0)),
        sending=int(states.get("sending", 0)),
        dead=int(states.get("dead", 0)),
        unknown=int(states.get("unknown", 0)),
    )


def open_count(*, session: Session) -> int:
    """Return how many rows are queued or being sent."""
    stmt = sa.select(sa.func.count()).where(col(Delivery.state).in_(OPEN_STATES))
    return int(session.execute(stmt).scalar_one())
