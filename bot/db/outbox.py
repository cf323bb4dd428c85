"""The outbox in one place: queueing alerts, claims, sender heartbeats and send outcomes.

Every function works inside the caller's transaction; keyword-only arguments. Broadcasts'
drafts and tallies are in bot/db/broadcasts.py, the operator's counts in bot/db/stats.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.db import upsert
from bot.db.chats import deactivate_chat, migrate_chat
from bot.db.feeds import feed_names
from bot.db.models import (
    OPEN_STATES,
    Broadcast,
    Delivery,
    DeliveryState,
    Entry,
    OutboxSender,
    Priority,
    utcnow,
)

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


# --- queueing alerts ------------------------------------------------------------------------


def enqueue_entry(
    *,
    session: Session,
    entry_id: int,
    chats: dict[int, int | None],
    topics: Mapping[int, Sequence[int]] | None = None,
    story_id: int | None = None,
) -> int:
    """Queue one alert per chat ({chat: thread}) for the entry, skipping chats that have it.

    `topics` ({chat: topic ids}) names the chat's topics the story matched; `story_id` the
    story the alert is the chat's one alert of.
    """
    if not chats:
        return 0
    ids = list(chats)
    already: set[int] = set()
    for start in range(0, len(ids), 500):
        already.update(
            session.exec(
                select(Delivery.chat_id).where(
                    Delivery.entry_id == entry_id,
                    col(Delivery.chat_id).in_(ids[start : start + 500]),
                )
            )
        )
    now = utcnow()
    rows = [
        {
            "chat_id": c,
            "thread_id": t,
            "entry_id": entry_id,
            "story_id": story_id,
            "topic_ids": ",".join(map(str, (topics or {}).get(c, ()))) or None,
            "state": DeliveryState.QUEUED,
            "priority": Priority.ALERT,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for c, t in chats.items()
        if c not in already
    ]
    # One executemany instead of an ORM object per row: a story for 10,000 subscribers is
    # queued in well under a second.
    if rows:
        # A row another writer queued meanwhile is left as it is.
        session.execute(upsert.insert(session, Delivery).on_conflict_do_nothing(), rows)
    return len(rows)


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
    for priority in Priority:
        need = limit - len(taken)
        if need <= 0:
            break
        stmt = (
            select(Delivery.id, Delivery.chat_id)
            .where(
                Delivery.state == DeliveryState.QUEUED,
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
                Delivery.state == DeliveryState.QUEUED,
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
            .where(DELIVERY.c.id == sa.bindparam("b_id"), DELIVERY.c.state == DeliveryState.QUEUED)
            .values(next_attempt_at=sa.bindparam("b_at")),
            later,
        )
    if not taken:
        return []
    claimed = session.execute(
        sa.update(Delivery)
        .where(col(Delivery.id).in_(taken), col(Delivery.state) == DeliveryState.QUEUED)
        .values(
            state=DeliveryState.SENDING,
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
                col(Delivery.state) == DeliveryState.SENDING,
            )
            .values(
                state=DeliveryState.QUEUED,
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
            Delivery.state == DeliveryState.QUEUED, _shard_filter(shard)
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
            col(Delivery.state) == DeliveryState.SENDING,
            sa.or_(col(Delivery.claimed_at).is_(None), col(Delivery.claimed_at) < cutoff),
            sa.or_(col(Delivery.claimed_by).is_(None), col(Delivery.claimed_by).not_in(live)),
        )
        .values(state=DeliveryState.QUEUED, claimed_by=None, claimed_at=None)
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
    state: str  # a DeliveryState (sent, queued to retry, failed, dead, unknown) or "released"
    at: datetime  # when it was sent, or when to try again
    error: str | None = None
    count_attempt: bool = True
    deactivate: bool = False
    migrate_to: int | None = None
    hold_chat_until: datetime | None = None
    message_id: int | None = None  # the Telegram message a sent alert became


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
        {"b_id": r.delivery_id, "b_at": r.at, "b_message": r.message_id}
        for r in results
        if r.state == DeliveryState.SENT and r.migrate_to is None
    ]
    if sent:
        session.execute(
            sa.update(DELIVERY)
            .where(DELIVERY.c.id == sa.bindparam("b_id"))
            .values(
                state=DeliveryState.SENT,
                sent_at=sa.bindparam("b_at"),
                message_id=sa.bindparam("b_message"),
                last_error=None,
                claimed_by=None,
                claimed_at=None,
            ),
            sent,
        )
        report.sent = len(sent)
    mine = (col(Delivery.claimed_by) == owner, col(Delivery.state) == DeliveryState.SENDING)
    for r in results:
        if r.state == DeliveryState.SENT:
            continue
        where = (col(Delivery.id) == r.delivery_id, *mine)
        if r.migrate_to is not None:
            migrate_chat(session=session, old_id=r.chat_id, new_id=r.migrate_to)
            report.migrated.append((r.chat_id, r.migrate_to))
            continue
        if r.state in (DeliveryState.QUEUED, "released"):
            values: dict[str, object] = {
                "state": DeliveryState.QUEUED,
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
            cancelled = deactivate_chat(
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
            col(Delivery.state) == DeliveryState.QUEUED,
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
    names = feed_names(session=session, feed_ids=(e.feed_id for e in entries.values()))
    return entries, broadcasts, names


def open_count(*, session: Session) -> int:
    """Return how many rows are queued or being sent."""
    stmt = sa.select(sa.func.count()).where(col(Delivery.state).in_(OPEN_STATES))
    return int(session.execute(stmt).scalar_one())
