"""The Sender against the stand-in Bot API: limits, priorities and every error Telegram gives."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Bot

from bot.db import broadcasts, outbox
from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import Chat, Delivery, Entry, Feed, OutboxSender, Subscription, Topic, utcnow
from bot.delivery.breaker import State
from bot.delivery.render import Alert, esc
from bot.delivery.sender import CHAT_BURST, Sender, SenderConfig
from bot.delivery.transport import LeanRequest, make_send_bot
from tests.support.telegram_api import ClockedTelegram, FakeTelegram

FAST = SenderConfig(
    rate=200,
    lease=3,
    heartbeat_every=0.1,
    flush_every=0.05,
    retry_base=0.05,
    idle_wait=0.1,
)


@pytest.fixture
def tg() -> Iterator[ClockedTelegram]:
    with ClockedTelegram() as server:
        yield server


def bot_for(tg: FakeTelegram, **request: float) -> Bot:
    if not request:
        return make_send_bot(token=tg.token, base_url=tg.base_url, pool_size=32)
    return Bot(tg.token, base_url=tg.base_url, request=LeanRequest(**request))  # type: ignore[arg-type]


def sender_for(
    engine: Engine, tg: FakeTelegram, config: SenderConfig = FAST, **kwargs: object
) -> Sender:
    return Sender(engine=engine, bot=bot_for(tg), config=config, owns_bot=True, **kwargs)  # type: ignore[arg-type]


def _entry(session: Session, title: str) -> int:
    feed = session.exec(select(Feed)).first()
    if feed is None:
        feed = feeds_db.add_feeds(session=session, urls=["https://wire.example/world.xml"])[0]
        feed.title = "Example Wire"
    assert feed.id is not None
    entry = Entry(
        feed_id=feed.id,
        key=title,
        title=title,
        summary="Officials said the work would take a week.",
        link="https://wire.example/story",
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None
    return entry.id


def alert(engine: Engine, title: str, chats: list[int]) -> int:
    """Store a story and queue its alert for the chats (registering them); return the entry."""
    with session_scope(engine) as s:
        for chat in chats:
            chats_db.ensure_chat(
                session=s, chat_id=chat, chat_type="group" if chat < 0 else "private", title=None
            )
        entry_id = _entry(s, title)
        outbox.enqueue_entry(session=s, entry_id=entry_id, chats=dict.fromkeys(chats))
    return entry_id


def rows(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as s:
        return list(s.exec(select(Delivery).order_by(col(Delivery.id))))


def open_rows(engine: Engine) -> int:
    with session_scope(engine) as s:
        return outbox.open_count(session=s)


async def drive(sender: Sender, until: Callable[[], bool], limit: float = 10) -> None:
    """Run the sender until `until()` holds (checked every 20 ms), then stop it."""
    task = asyncio.create_task(sender.run())
    deadline = time.monotonic() + limit
    try:
        while not until():
            if task.done():
                task.result()
            assert time.monotonic() < deadline, "timed out waiting for the sender"
            await asyncio.sleep(0.02)
    finally:
        await sender.stop()
        await asyncio.wait_for(task, 15)


def sent_to(tg: FakeTelegram, contains: str) -> Counter[int]:
    return Counter(m.chat_id for m in tg.messages() if contains in m.plain)


# --- the happy path, rate and spacing ------------------------------------------------------------


async def test_every_row_delivered_once_within_the_rate(
    engine: Engine, tg: ClockedTelegram
) -> None:
    chats = list(range(1000, 1040))
    alert(engine, "Bridge reopens after repairs", chats)
    sender = sender_for(engine, tg, replace(FAST, rate=40))
    started = time.monotonic()
    await drive(sender, lambda: open_rows(engine) == 0)
    elapsed = time.monotonic() - started
    assert sent_to(tg, "Bridge reopens") == dict.fromkeys(chats, 1)
    assert {r.state for r in rows(engine)} == {"sent"}
    stamps = tg.stamps()
    achieved = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 40 * 0.85 <= achieved <= 40 * 1.05, achieved
    assert elapsed < 4
    message = tg.messages()[0]
    assert message.parse_mode == "HTML" and message.text.startswith("<b>Bridge reopens")
    assert not message.link_preview_disabled
    with session_scope(engine) as s:
        assert s.exec(select(OutboxSender)).all() == []  # retired at stop


async def test_chat_limits_hold_and_a_busy_chat_blocks_no_one(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    tg.enforce_limits()  # bursts of 5 then 1/s per chat, 20/min per group, 30/s overall
    busy = [501, 502, -503]
    quiet = list(range(600, 620))
    for n in range(6):
        alert(sqlite_engine, f"Council vote {n}", busy if n < 4 else busy[:2])
    alert(sqlite_engine, "Council vote 0 reaction", quiet)
    sender = sender_for(sqlite_engine, tg, replace(FAST, rate=25))
    started = time.monotonic()
    await drive(sender, lambda: open_rows(sqlite_engine) == 0, limit=20)
    assert tg.too_many_requests == 0
    for chat in busy:
        stamps = tg.stamps(chat)
        assert len(stamps) == (4 if chat < 0 else 6)
        # A burst of CHAT_BURST, then one per interval (3 s in a group), from the answers.
        interval = 3.0 if chat < 0 else 1.0
        for n in range(CHAT_BURST, len(stamps)):
            assert stamps[n] - stamps[0] >= (n - CHAT_BURST + 1) * interval - 0.05
    # The quiet chats did not wait behind the busy ones.
    assert max(max(tg.stamps(c)) for c in quiet) - started < 2.0


async def test_alerts_overtake_a_large_broadcast(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    chats = list(range(10_000, 10_600))
    with session_scope(sqlite_engine) as s:
        s.execute(
            sa.insert(Chat),
            [{"id": c, "type": "private", "title": None, "active": True} for c in chats],
        )
        bc = broadcasts.create_broadcast(
            session=s, admin_user_id=1, admin_chat_id=chats[0], text="Hi"
        )
        broadcasts.confirm_broadcast(session=s, broadcast_id=bc)
    sender = sender_for(sqlite_engine, tg, replace(FAST, rate=200))
    task = asyncio.create_task(sender.run())
    try:
        await tg.await_for(lambda: len(tg.messages()) >= 100)
        queued_at = time.monotonic()
        alert(sqlite_engine, "Breaking: dam gates opened", [chats[-1]])  # no wake-up call
        message = await tg.await_message(chats[-1], "dam gates", timeout=5)
        latency = time.monotonic() - queued_at
        before = [m for m in tg.messages() if m.seq < message.seq and m.plain == "Hi"]
    finally:
        await sender.stop()
        await task
    assert latency < 1.0
    assert len(before) < 400  # the broadcast was still far from done


async def test_paid_broadcasts_ask_for_it_and_alerts_do_not(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    alert(sqlite_engine, "Tram strike called off", [1])
    with session_scope(sqlite_engine) as s:
        chats_db.ensure_chat(session=s, chat_id=2, chat_type="private", title=None)
        chats_db.ensure_chat(session=s, chat_id=3, chat_type="private", title=None)
        s.execute(sa.update(Chat).where(col(Chat.id) == 1).values(active=False))
        bc = broadcasts.create_broadcast(session=s, admin_user_id=1, admin_chat_id=2, text="Note")
        broadcasts.confirm_broadcast(session=s, broadcast_id=bc)
    config = replace(FAST, allow_paid_broadcast=True, paid_rate=500)
    await drive(sender_for(sqlite_engine, tg, config), lambda: open_rows(sqlite_engine) == 0)
    by_chat = {m.chat_id: m for m in tg.messages()}
    assert by_chat[2].plain == by_chat[3].plain == "Note"
    assert by_chat[2].allow_paid_broadcast and by_chat[3].allow_paid_broadcast
    assert by_chat[2].link_preview_disabled
    assert "Tram strike" in by_chat[1].plain and not by_chat[1].allow_paid_broadcast


# --- 429 --------------------------------------------------------------------------------------


async def test_a_429_is_waited_out_and_not_counted(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    engine = sqlite_engine
    tg.rate_limit(7, retry_after=1, times=1)
    alert(engine, "Harbour crane toppled", [7, 8])
    sender = sender_for(engine, tg)
    await drive(sender, lambda: open_rows(engine) == 0)
    assert sent_to(tg, "Harbour crane") == {7: 1, 8: 1}
    refused = [r for r in tg.requests("sendMessage") if r.status == 429]
    delivered = [
        r for r in tg.requests("sendMessage") if r.status == 200 and r.params["chat_id"] == 7
    ]
    assert (delivered[0].at - refused[0].at).total_seconds() >= 0.95
    row = next(r for r in rows(engine) if r.chat_id == 7)
    assert (row.state, row.attempts) == ("sent", 1)


async def test_many_chats_429ing_is_bot_wide(sqlite_engine: Engine, tg: ClockedTelegram) -> None:
    tg.rate_limit(None, retry_after=1, times=4)
    chats = list(range(40, 60))
    alert(sqlite_engine, "Grid failure in the north", chats)
    sender = sender_for(sqlite_engine, tg, replace(FAST, rate=50))
    factors: list[float] = []

    def done() -> bool:
        factors.append(sender.pacer.factor())
        return open_rows(sqlite_engine) == 0

    await drive(sender, done)
    assert sent_to(tg, "Grid failure") == dict.fromkeys(chats, 1)
    assert min(factors) < 1.0  # the rate was cut
    third_refusal = tg.stamps(status=429)[2]
    next_ok = min(t for t in tg.stamps() if t > third_refusal)
    assert next_ok - third_refusal >= 0.9  # everyone paused
    assert all(r.attempts == 1 for r in rows(sqlite_engine))


# --- chats that are gone or moved ----------------------------------------------------------------


@pytest.mark.parametrize("gone", ["blocked", "not found"])
async def test_unreachable_chat_is_deactivated_and_its_queue_cancelled(
    sqlite_engine: Engine, tg: ClockedTelegram, gone: str
) -> None:
    if gone == "blocked":
        tg.block(31)
    else:
        tg.chat_not_found(31)
    for n in range(3):
        alert(sqlite_engine, f"Storm warning {n}", [31, 32] if n == 0 else [31])
    await drive(sender_for(sqlite_engine, tg), lambda: open_rows(sqlite_engine) == 0)
    assert sent_to(tg, "Storm warning") == {32: 1}
    assert len([r for r in tg.requests("sendMessage") if r.params["chat_id"] == 31]) == 1
    states = Counter(r.state for r in rows(sqlite_engine) if r.chat_id == 31)
    assert states == {"failed": 1, "cancelled": 2}
    with session_scope(sqlite_engine) as s:
        chat = s.get(Chat, 31)
        assert chat is not None and not chat.active


async def test_migrated_group_gets_its_messages_at_the_new_id(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    engine = sqlite_engine
    old, new = -4001, -1004001
    tg.add_chat(old, chat_type="group", title="Harbour watchers")
    tg.migrate(old, new)
    entry = alert(engine, "Pier closed for repairs", [old])
    with session_scope(engine) as s:
        topic = Topic(canonical="pier", display="pier")
        s.add(topic)
        s.flush()
        s.add(Subscription(chat_id=old, topic_id=topic.id or 0))
    await drive(sender_for(engine, tg), lambda: open_rows(engine) == 0)
    assert sent_to(tg, "Pier closed") == {new: 1}
    (row,) = rows(engine)
    assert (row.chat_id, row.entry_id, row.state) == (new, entry, "sent")
    with session_scope(engine) as s:
        assert s.exec(select(Subscription.chat_id)).all() == [new]
        moved, gone = s.get(Chat, new), s.get(Chat, old)
        assert moved is not None and moved.active and gone is not None and not gone.active


# --- our own mistakes --------------------------------------------------------------------------


@pytest.mark.parametrize("bug", ["broken tag", "too long"])
async def test_render_bug_is_resent_as_plain_text_and_logged(
    sqlite_engine: Engine, tg: ClockedTelegram, caplog: pytest.LogCaptureFixture, bug: str
) -> None:
    def broken(a: Alert, t: object = None) -> str:
        return f"<b>{esc(a.title)}" if bug == "broken tag" else esc(a.title) * 400

    alert(sqlite_engine, "Ferry timetable changes", [5])
    sender = sender_for(sqlite_engine, tg, alert_html=broken)
    with caplog.at_level(logging.ERROR, logger="bot.delivery.sender"):
        await drive(sender, lambda: open_rows(sqlite_engine) == 0)
    (message,) = tg.messages(5)
    assert message.parse_mode is None
    assert message.text.startswith("Ferry timetable changes\n\nOfficials said")
    assert "render bug" in caplog.text
    assert rows(sqlite_engine)[0].state == "sent"


# --- failures on the way ------------------------------------------------------------------------


async def test_server_errors_are_retried_with_backoff(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    tg.fail_next("sendMessage", 502, times=2)
    alert(sqlite_engine, "Rail line flooded", [9])
    await drive(sender_for(sqlite_engine, tg), lambda: open_rows(sqlite_engine) == 0)
    assert sent_to(tg, "Rail line") == {9: 1}
    (row,) = rows(sqlite_engine)
    assert (row.state, row.attempts) == ("sent", 3)


async def test_persistent_errors_end_as_dead_letters(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    tg.fail_next("sendMessage", 500, times=100)
    alert(sqlite_engine, "Airport fog delays", [9])
    config = replace(FAST, max_attempts=3)
    await drive(sender_for(sqlite_engine, tg, config), lambda: open_rows(sqlite_engine) == 0)
    (row,) = rows(sqlite_engine)
    assert (row.state, row.attempts) == ("dead", 3)
    assert row.last_error == "gave up after 3 attempts: Internal Server Error"
    assert len(tg.requests("sendMessage")) == 3


async def test_connection_refused_pauses_sending_instead_of_burning_the_queue(
    sqlite_engine: Engine,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    alert(sqlite_engine, "Bridge inspection", [9])
    bot = make_send_bot(
        token="123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-",
        base_url=f"http://127.0.0.1:{port}/bot",
        pool_size=4,
    )
    sender = Sender(engine=sqlite_engine, bot=bot, config=replace(FAST, max_attempts=3))
    # The breaker opens after a few failed probes; the message is not tried again meanwhile.
    await drive(sender, lambda: sender.breaker.state is State.OPEN and sender.breaker.failures > 4)
    (row,) = rows(sqlite_engine)
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.last_error is not None and "ConnectError" in row.last_error


async def test_pool_timeouts_are_retried_and_sent_once(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    tg.set_delay("sendMessage", 0.15)
    alert(sqlite_engine, "Power cut downtown", [1, 2, 3])
    bot = bot_for(tg, pool_size=1, pool_timeout=0.05)
    sender = Sender(engine=sqlite_engine, bot=bot, config=replace(FAST, max_in_flight=3))
    await drive(sender, lambda: open_rows(sqlite_engine) == 0)
    assert sent_to(tg, "Power cut") == {1: 1, 2: 1, 3: 1}
    assert max(r.attempts for r in rows(sqlite_engine)) > 1


async def test_read_timeout_is_closed_as_unknown_not_resent(
    sqlite_engine: Engine, tg: ClockedTelegram
) -> None:
    tg.set_delay("sendMessage", 0.4)
    alert(sqlite_engine, "Museum fire contained", [4])
    bot = bot_for(tg, read_timeout=0.1)
    sender = Sender(engine=sqlite_engine, bot=bot, config=FAST)
    await drive(sender, lambda: open_rows(sqlite_engine) == 0)
    await asyncio.sleep(0.6)
    (row,) = rows(sqlite_engine)
    assert row.state == "unknown"
    # It did arrive: the reason it must not be sent again.
    assert sent_to(tg, "Museum fire") == {4: 1}


# --- leases ---------------------------------------------------------------------------------------


async def test_rows_of_a_dead_sender_are_taken_back_but_a_live_ones_are_not(
    engine: Engine, tg: ClockedTelegram
) -> None:
    alert(engine, "Tunnel reopened", [1, 2])
    stale = utcnow() - timedelta(seconds=30)
    with session_scope(engine) as s:
        s.add(OutboxSender(id="dead", started_at=stale, heartbeat_at=stale))
        s.add(OutboxSender(id="live", started_at=stale, heartbeat_at=utcnow()))
        s.execute(
            sa.update(Delivery)
            .where(col(Delivery.chat_id) == 1)
            .values(state="sending", claimed_by="dead", claimed_at=stale, attempts=1)
        )
        s.execute(
            sa.update(Delivery)
            .where(col(Delivery.chat_id) == 2)
            .values(state="sending", claimed_by="live", claimed_at=stale, attempts=1)
        )
    sender = sender_for(engine, tg)

    def beat_live() -> None:
        with session_scope(engine) as s:
            outbox.heartbeat(
                session=s, sender_id="live", now=outbox.db_now(session=s), stale_after=3
            )

    def done() -> bool:
        beat_live()
        return bool(sent_to(tg, "Tunnel reopened"))

    await drive(sender, done)
    await asyncio.sleep(0.5)
    assert sent_to(tg, "Tunnel reopened") == {1: 1}
    states = {r.chat_id: (r.state, r.claimed_by) for r in rows(engine)}
    assert states == {1: ("sent", None), 2: ("sending", "live")}
