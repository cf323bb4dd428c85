"""Outbox data access on SQLite and PostgreSQL: claims, leases, outcomes, broadcasts, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import broadcasts, outbox
from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import (
    Chat,
    Delivery,
    DeliveryState,
    Entry,
    Feed,
    OutboxSender,
    Priority,
    Subscription,
    Topic,
)
from bot.db.stats import Stats, read_stats

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def seed_entry(session: Session) -> int:
    """Store a feed (once) and a new story; return the entry id."""
    feed = session.exec(select(Feed)).first()
    if feed is None:
        feed = feeds_db.add_feeds(session=session, urls=["https://wire.example/world.xml"])[0]
    assert feed.id is not None
    n = len(session.exec(select(Entry.id)).all()) + 1
    entry = Entry(feed_id=feed.id, key=f"story-{n}", title=f"Ferry strike day {n}", summary="")
    session.add(entry)
    session.flush()
    assert entry.id is not None
    return entry.id


def seed_chats(session: Session, ids: list[int]) -> None:
    for chat_id in ids:
        chats_db.register_chat(
            session=session, chat_id=chat_id, chat_type="group" if chat_id < 0 else "private",
            title=None,
        )  # fmt: skip


def queue(engine: Engine, chats: list[int], *, stories: int = 1, at: datetime = T0) -> list[int]:
    """Queue `stories` alerts for each chat, all due at `at`; return the entry ids."""
    with session_scope(engine) as s:
        seed_chats(s, sorted(set(chats) - set(s.exec(select(Chat.id)))))
        entries = [seed_entry(s) for _ in range(stories)]
        for entry_id in entries:
            outbox.enqueue_entry(session=s, entry_id=entry_id, chats=dict.fromkeys(chats))
        s.execute(
            sa.update(Delivery)
            .where(col(Delivery.entry_id).in_(entries))
            .values(next_attempt_at=at)
        )
    return entries


def states(engine: Engine) -> dict[int, str]:
    with session_scope(engine) as s:
        return {d.id: d.state for d in s.exec(select(Delivery)) if d.id is not None}


def test_claim_takes_one_row_per_chat_and_moves_the_rest(engine: Engine) -> None:
    queue(engine, [1, 2, -3], stories=3)
    with session_scope(engine) as s:
        rows = outbox.claim_due(session=s, owner="a", now=T0, limit=10)
    assert sorted(r.chat_id for r in rows) == [-3, 1, 2]
    assert all(r.state == "sending" and r.claimed_by == "a" and r.attempts == 1 for r in rows)
    with session_scope(engine) as s:
        later = s.exec(select(Delivery).where(Delivery.state == "queued")).all()
        waits = sorted((d.chat_id, d.next_attempt_at - T0) for d in later)
    # The other rows of each chat wait their turn: a second apart, three for a group.
    assert waits == [
        (-3, timedelta(seconds=3)),
        (-3, timedelta(seconds=6)),
        (1, timedelta(seconds=1)),
        (1, timedelta(seconds=2)),
        (2, timedelta(seconds=1)),
        (2, timedelta(seconds=2)),
    ]
    with session_scope(engine) as s:
        assert outbox.claim_due(session=s, owner="a", now=T0, limit=10) == []
        again = outbox.claim_due(session=s, owner="a", now=T0 + timedelta(seconds=1), limit=10)
    assert sorted(r.chat_id for r in again) == [1, 2]


def test_a_chat_with_a_long_backlog_does_not_hold_up_the_others(engine: Engine) -> None:
    queue(engine, [1], stories=40)
    queue(engine, [2, 3, 4], stories=1, at=T0 + timedelta(milliseconds=1))
    with session_scope(engine) as s:
        soon = T0 + timedelta(seconds=0.5)
        first = outbox.claim_due(session=s, owner="a", now=soon, limit=2)
        busy = {1: soon + timedelta(seconds=1)}
        second = outbox.claim_due(session=s, owner="a", now=soon, limit=2, busy=busy)
    assert [r.chat_id for r in first] == [1]
    assert sorted(r.chat_id for r in second) == [2, 3]


def test_busy_chats_wait_until_they_are_free(engine: Engine) -> None:
    queue(engine, [1, 2])
    with session_scope(engine) as s:
        busy = {1: T0 + timedelta(seconds=5)}
        rows = outbox.claim_due(session=s, owner="a", now=T0, limit=10, busy=busy)
        assert [r.chat_id for r in rows] == [2]
        held = s.exec(select(Delivery).where(Delivery.chat_id == 1)).one()
        assert held.state == "queued"
        assert held.next_attempt_at == T0 + timedelta(seconds=5)


def test_alerts_are_claimed_before_broadcasts(engine: Engine) -> None:
    with session_scope(engine) as s:
        seed_chats(s, [10, 11, 12])
        bc = broadcasts.create_broadcast(session=s, admin_user_id=1, admin_chat_id=10, text="Hi")
        assert broadcasts.confirm_broadcast(session=s, broadcast_id=bc) is not None
    queue(engine, [12], at=T0 + timedelta(seconds=1))
    with session_scope(engine) as s:
        s.execute(
            sa.update(Delivery).where(col(Delivery.broadcast_id).is_not(None))
            .values(next_attempt_at=T0)
        )  # fmt: skip
    with session_scope(engine) as s:
        rows = outbox.claim_due(session=s, owner="a", now=T0 + timedelta(seconds=2), limit=2)
    assert rows[0].entry_id is not None and rows[0].chat_id == 12
    assert rows[1].broadcast_id is not None and rows[1].priority == Priority.BROADCAST


def test_two_claims_never_take_the_same_row(engine: Engine) -> None:
    queue(engine, list(range(1, 41)))
    with session_scope(engine) as a_session, session_scope(engine) as b_session:
        a = outbox.claim_due(session=a_session, owner="a", now=T0, limit=25)
        a_session.commit()
        b = outbox.claim_due(session=b_session, owner="b", now=T0, limit=25)
    assert len(a) == 25 and len(b) == 15
    assert not {r.id for r in a} & {r.id for r in b}


def test_shards_split_chats_between_senders(engine: Engine) -> None:
    queue(engine, [1, 2, 3, 4, -5, -6])
    with session_scope(engine) as s:
        even = outbox.claim_due(session=s, owner="a", now=T0, limit=10, shard=(0, 2))
        odd = outbox.claim_due(session=s, owner="b", now=T0, limit=10, shard=(1, 2))
    assert sorted(r.chat_id for r in even) == [-6, 2, 4]
    assert sorted(r.chat_id for r in odd) == [-5, 1, 3]


def test_heartbeats_leases_and_reclaiming(engine: Engine) -> None:
    queue(engine, [1, 2, 3])
    with session_scope(engine) as s:
        assert outbox.heartbeat(session=s, sender_id="dead", now=T0, stale_after=10) == ["dead"]
        assert outbox.heartbeat(session=s, sender_id="live", now=T0, stale_after=10) == [
            "dead",
            "live",
        ]
        outbox.claim_due(session=s, owner="dead", now=T0, limit=2)
        outbox.claim_due(session=s, owner="live", now=T0, limit=1)
    later = T0 + timedelta(seconds=11)
    with session_scope(engine) as s:
        assert outbox.heartbeat(session=s, sender_id="live", now=later, stale_after=10) == ["live"]
        # A claim made just now by a sender this statement doesn't know yet stays its own.
        outbox.claim_due(session=s, owner="newcomer", now=later, limit=5)
    with session_scope(engine) as s:
        assert outbox.reclaim_abandoned(session=s, now=later, stale_after=10) == 2
    with session_scope(engine) as s:
        owners = sorted((d.state, d.claimed_by or "") for d in s.exec(select(Delivery)))
    assert owners == [("queued", ""), ("queued", ""), ("sending", "live")]
    with session_scope(engine) as s:
        outbox.retire(session=s, sender_id="live")
        assert s.get(OutboxSender, "live") is None
        # Long-dead senders are forgotten.
        outbox.reclaim_abandoned(session=s, now=T0 + timedelta(seconds=200), stale_after=10)
        assert s.exec(select(OutboxSender)).all() == []


def test_release_gives_rows_back_without_counting_an_attempt(engine: Engine) -> None:
    queue(engine, [1, 2])
    with session_scope(engine) as s:
        ids = [r.id or 0 for r in outbox.claim_due(session=s, owner="a", now=T0, limit=5)]
    with session_scope(engine) as s:
        assert outbox.release(session=s, owner="other", ids=ids) == 0
        assert outbox.release(session=s, owner="a", ids=ids) == 2
        rows = s.exec(select(Delivery)).all()
    assert all(r.state == "queued" and r.attempts == 0 and r.claimed_by is None for r in rows)


def test_record_results_in_one_batch(engine: Engine) -> None:
    queue(engine, [1, 2, 3, 4, 5])
    queue(engine, [3])  # a second alert for chat 3, not claimed yet
    with session_scope(engine) as s:
        rows = {
            r.chat_id: r.id or 0 for r in outbox.claim_due(session=s, owner="a", now=T0, limit=5)
        }
    retry_at = T0 + timedelta(seconds=30)
    results = [
        outbox.SendResult(delivery_id=rows[1], chat_id=1, state="sent", at=T0),
        outbox.SendResult(delivery_id=rows[2], chat_id=2, state="queued", at=retry_at, error="502"),
        outbox.SendResult(
            delivery_id=rows[3], chat_id=3, state="queued", at=retry_at, error="429",
            count_attempt=False, hold_chat_until=retry_at,
        ),
        outbox.SendResult(delivery_id=rows[4], chat_id=4, state="dead", at=T0, error="gave up"),
        outbox.SendResult(
            delivery_id=rows[5], chat_id=5, state="failed", at=T0, error="blocked", deactivate=True
        ),
    ]  # fmt: skip
    with session_scope(engine) as s:
        report = outbox.record_results(session=s, owner="a", results=results)
    assert (report.sent, report.retried, report.closed) == (1, 2, 2)
    assert report.deactivated == [(5, 0)]
    with session_scope(engine) as s:
        by_id = {d.id: d for d in s.exec(select(Delivery))}
        assert by_id[rows[1]].state == "sent" and by_id[rows[1]].sent_at == T0
        assert (by_id[rows[2]].state, by_id[rows[2]].attempts) == ("queued", 1)
        assert by_id[rows[2]].next_attempt_at == retry_at
        assert (by_id[rows[3]].state, by_id[rows[3]].attempts) == ("queued", 0)
        assert by_id[rows[4]].state == "dead" and by_id[rows[4]].last_error == "gave up"
        # The 429 holds the chat's other queued alert too.
        other = [d for d in by_id.values() if d.chat_id == 3 and d.id != rows[3]]
        assert [d.next_attempt_at for d in other] == [retry_at]
        chat5 = s.get(Chat, 5)
        assert chat5 is not None and not chat5.active


def test_outcomes_for_rows_taken_over_are_ignored(engine: Engine) -> None:
    queue(engine, [1])
    with session_scope(engine) as s:
        row = outbox.claim_due(session=s, owner="a", now=T0, limit=1)[0]
        s.execute(sa.update(Delivery).values(claimed_by="b"))
    assert row.id is not None
    retry = outbox.SendResult(delivery_id=row.id, chat_id=1, state="queued", at=T0, error="x")
    with session_scope(engine) as s:
        outbox.record_results(session=s, owner="a", results=[retry])
        assert s.exec(select(Delivery.state, Delivery.claimed_by)).one() == ("sending", "b")


def test_migrate_moves_subscriptions_and_open_rows(engine: Engine) -> None:
    entries = queue(engine, [-42], stories=2)
    with session_scope(engine) as s:
        topic = Topic(canonical="ferries", display="ferries")
        s.add(topic)
        s.flush()
        s.add(Subscription(chat_id=-42, topic_id=topic.id or 0))
        seed_chats(s, [100])
        bc = broadcasts.create_broadcast(session=s, admin_user_id=1, admin_chat_id=100, text="Hi")
        broadcasts.confirm_broadcast(session=s, broadcast_id=bc)
        # The new id already has the first alert and the broadcast.
        seed_chats(s, [-10042])
        outbox.enqueue_entry(session=s, entry_id=entries[0], chats={-10042: None})
        s.add(Delivery(chat_id=-10042, broadcast_id=bc, priority=1, state="sent"))
    with session_scope(engine) as s:
        chats_db.migrate_chat(session=s, old_id=-42, new_id=-10042)
    with session_scope(engine) as s:
        rows = s.exec(select(Delivery.chat_id, Delivery.entry_id, Delivery.state)).all()
        subs = s.exec(select(Subscription.chat_id)).all()
        old = s.get(Chat, -42)
    assert subs == [-10042]
    assert old is not None and not old.active
    left = sorted((r[1] or 0, r[2]) for r in rows if r[0] == -42)
    assert left == [(0, "cancelled"), (entries[0], "cancelled")]
    assert (-10042, entries[1], "queued") in rows


def test_broadcast_lifecycle_and_tallies(engine: Engine) -> None:
    with session_scope(engine) as s:
        seed_chats(s, [1, 2, 3, 4])
        s.execute(sa.update(Chat).where(col(Chat.id) == 4).values(active=False))
        bc = broadcasts.create_broadcast(session=s, admin_user_id=9, admin_chat_id=1, text="Hello")
        broadcasts.set_broadcast_message(session=s, broadcast_id=bc, message_id=77)
    with session_scope(engine) as s:
        confirmed = broadcasts.confirm_broadcast(session=s, broadcast_id=bc)
        assert confirmed is not None and confirmed.total == 3
        assert broadcasts.confirm_broadcast(session=s, broadcast_id=bc) is None
        assert broadcasts.cancel_broadcast(session=s, broadcast_id=bc) is None
    with session_scope(engine) as s:
        s.execute(sa.update(Delivery).where(col(Delivery.chat_id) == 1).values(state="sent"))
        s.execute(sa.update(Delivery).where(col(Delivery.chat_id) == 2).values(state="dead"))
        (tally,) = broadcasts.sending_broadcasts(session=s)
        assert (tally.sent, tally.failed, tally.pending) == (1, 1, 1)
        assert tally.admin_message_id == 77
        s.execute(sa.update(Delivery).where(col(Delivery.chat_id) == 3).values(state="unknown"))
    with session_scope(engine) as s:
        assert broadcasts.finish_broadcast(session=s, broadcast_id=bc)
        assert not broadcasts.finish_broadcast(session=s, broadcast_id=bc)
        (done,) = broadcasts.recent_broadcasts(session=s)
        assert (done.sent, done.failed, done.pending, done.unknown) == (1, 1, 0, 1)
        assert broadcasts.sending_broadcasts(session=s) == []


def test_read_stats(engine: Engine) -> None:
    now = datetime.now(UTC)
    queue(engine, [1, 2, 3], at=now)
    with session_scope(engine) as s:
        s.execute(sa.update(Chat).where(col(Chat.id) == 3).values(active=False))
        s.add(Feed(url="https://failing.example/rss", error_count=4))
        s.add(Feed(url="https://off.example/rss", enabled=False, error_count=100))
        topic = Topic(canonical="ferries", display="ferries")
        s.add(topic)
        s.flush()
        s.add(Subscription(chat_id=1, topic_id=topic.id or 0))
        s.execute(
            sa.update(Delivery).where(col(Delivery.chat_id) == 1)
            .values(state="sent", sent_at=now - timedelta(hours=1))
        )  # fmt: skip
        s.execute(sa.update(Delivery).where(col(Delivery.chat_id) == 2).values(state="dead"))
    with session_scope(engine) as s:
        stats = read_stats(session=s, now=now)
        assert outbox.open_count(session=s) == 1
    assert stats == Stats(
        chats_active=2, chats_inactive=1, subscriptions=1, feeds_healthy=1, feeds_failing=1,
        feeds_disabled=1, alerts_sent_24h=1, deliveries={"queued": 1, "sent": 1, "dead": 1},
        due=1, broadcasts=[],
    )  # fmt: skip
    assert [stats.outbox(state) for state in DeliveryState] == [1, 0, 1, 0, 0, 0, 1]


def test_enqueue_entry_skips_chats_that_have_the_alert(engine: Engine) -> None:
    (entry,) = queue(engine, [1, 2])
    with session_scope(engine) as s:
        seed_chats(s, [3])
        assert outbox.enqueue_entry(session=s, entry_id=entry, chats={1: None, 3: 7}) == 1
        row = s.exec(select(Delivery).where(Delivery.chat_id == 3)).one()
    assert (row.thread_id, row.priority, row.state) == (7, Priority.ALERT, "queued")
