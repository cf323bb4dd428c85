"""Held stories and digest releases on SQLite and PostgreSQL, with a controllable clock.

Each release is claimed by moving the chat's `next_digest_at` on, so a digest goes once
whatever restarts (a new engine and service here) happen around its time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db import preferences as prefs_db
from bot.db.engine import make_engine, session_scope
from bot.db.models import (
    ChatPreference,
    Delivery,
    Digest,
    Entry,
    HeldAlert,
    Story,
    Subscription,
    Topic,
)
from bot.delivery.digest import render_digest
from bot.delivery.payload import Payloads
from bot.digests.times import DIGEST, SILENT, Preferences
from bot.services.base import ChatInfo
from bot.services.preferences import ChatSettings, Digests

BERLIN = "Europe/Berlin"
CHAT = 501


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def setup_chat(engine: Engine, prefs: Preferences, *, at: datetime, chat: int = CHAT) -> int:
    """Register the chat with a topic it follows and its preferences; return the topic id."""
    asyncio.run(
        ChatSettings(engine).change(ChatInfo(chat, "private", None), lambda _: prefs, now=at)
    )
    with session_scope(engine) as s:
        topic = s.exec(select(Topic).where(Topic.canonical == "harbour")).first()
        if topic is None:
            topic = Topic(canonical="harbour", display="harbour")
            s.add(topic)
            s.flush()
        assert topic.id is not None
        s.add(Subscription(chat_id=chat, topic_id=topic.id))
        return topic.id


def match(
    engine: Engine,
    title: str,
    *,
    at: datetime,
    chats: Sequence[int] = (CHAT,),
    feed_url: str = "https://wire.example/a.xml",
    story: int | None = None,
) -> dict[int, int | None]:
    """Store a story that matches the topic at `at`; return the chats alerted at once."""
    with session_scope(engine) as s:
        if story is not None and s.get(Story, story) is None:
            s.add(Story(id=story, title=title, first_at=at, last_at=at))
            s.flush()
        feed = feeds_db.add_feeds(session=s, urls=[feed_url])
        known = feeds_db.feed_by_url(session=s, url=feed_url)
        feed_id = feed[0].id if feed else known.id if known else None
        assert feed_id is not None
        entry = Entry(
            feed_id=feed_id,
            story_id=story,
            key=title,
            title=title,
            link=f"https://wire.example/{len(title)}",
            published_at=at,
            seen_at=at,
        )
        s.add(entry)
        s.flush()
        topic = s.exec(select(Topic.id)).one()
        assert entry.id is not None and topic is not None
        return prefs_db.route_alerts(
            session=s, entry_id=entry.id, chats=dict.fromkeys(chats), topic_ids=[topic], now=at
        )


def release(engine: Engine, at: datetime) -> int:
    """Release what is due at `at` (a fresh service, as after a restart); return digests queued."""
    return asyncio.run(Digests(engine).release_due(render_digest, now=at)).digests


def next_due(engine: Engine, chat: int = CHAT) -> datetime | None:
    with Session(engine) as s:
        row = s.get(ChatPreference, chat)
        assert row is not None
        return row.next_digest_at


def digests(engine: Engine, chat: int = CHAT) -> list[str]:
    with Session(engine) as s:
        stmt = select(Digest.html).join(Delivery, col(Delivery.digest_id) == col(Digest.id))
        return list(s.exec(stmt.where(Digest.chat_id == chat).order_by(col(Digest.id))))


def daily_digests(engine: Engine, days: int) -> list[datetime]:
    """Hold a story a day and release each digest at its time; return when each went."""
    sent = []
    for day in range(days):
        due = next_due(engine)
        assert due is not None
        assert match(engine, f"Harbour story of day {day}", at=due - timedelta(hours=3)) == {}
        assert release(engine, due - timedelta(minutes=1)) == 0
        assert release(engine, due) == 1
        assert release(engine, due + timedelta(seconds=30)) == 0  # once
        sent.append(due)
    assert len(digests(engine)) == days
    return sent


def test_digest_at_eight_berlin_across_the_march_change(engine: Engine) -> None:
    prefs = Preferences(mode=DIGEST, digest_times=(time(8),), timezone=BERLIN)
    setup_chat(engine, prefs, at=utc(2026, 3, 27, 12))
    sent = daily_digests(engine, 3)
    assert sent == [utc(2026, 3, 28, 7), utc(2026, 3, 29, 6), utc(2026, 3, 30, 6)]


def test_digest_at_eight_berlin_across_the_october_change(engine: Engine) -> None:
    prefs = Preferences(mode=DIGEST, digest_times=(time(8),), timezone=BERLIN)
    setup_chat(engine, prefs, at=utc(2026, 10, 23, 12))
    sent = daily_digests(engine, 3)
    assert sent == [utc(2026, 10, 24, 6), utc(2026, 10, 25, 7), utc(2026, 10, 26, 7)]


def restarted(engine: Engine) -> Engine:
    """Return a new engine on the same database, as a restarted process would have."""
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return make_engine(url)


def test_a_restart_just_before_the_digest_time_sends_it_once(engine: Engine) -> None:
    prefs = Preferences(mode=DIGEST, digest_times=(time(8),), timezone=BERLIN)
    setup_chat(engine, prefs, at=utc(2026, 6, 1, 12))
    match(engine, "Harbour reopens", at=utc(2026, 6, 1, 20))
    due = utc(2026, 6, 2, 6)
    assert next_due(engine) == due
    assert release(engine, due - timedelta(seconds=5)) == 0
    again = restarted(engine)
    try:
        assert release(again, due + timedelta(seconds=1)) == 1
        assert release(again, due + timedelta(seconds=20)) == 0
        assert next_due(again) == due + timedelta(days=1)
        assert len(digests(again)) == 1
    finally:
        again.dispose()


def test_a_restart_just_after_the_digest_time_sends_it_once_late(engine: Engine) -> None:
    prefs = Preferences(mode=DIGEST, digest_times=(time(8), time(18)), timezone=BERLIN)
    setup_chat(engine, prefs, at=utc(2026, 6, 1, 12))  # 14:00 in Berlin
    match(engine, "Harbour reopens", at=utc(2026, 6, 1, 13))
    due = utc(2026, 6, 1, 16)
    again = restarted(engine)
    try:
        # Down from 17:55 to 18:40 Berlin time: the 18:00 digest goes late, once.
        late = due + timedelta(minutes=40)
        assert release(again, late) == 1
        assert release(again, late + timedelta(seconds=15)) == 0
        assert next_due(again) == utc(2026, 6, 2, 6)
        [html] = digests(again)
        assert "Harbour reopens" in html
    finally:
        again.dispose()


def test_two_releases_at_once_send_one_digest(engine: Engine) -> None:
    prefs = Preferences(mode=DIGEST, digest_times=(time(8),))
    setup_chat(engine, prefs, at=utc(2026, 6, 1, 12))
    match(engine, "Harbour reopens", at=utc(2026, 6, 1, 13))
    due = utc(2026, 6, 2, 8)

    async def both() -> list[int]:
        services = [Digests(engine), Digests(engine)]
        reports = await asyncio.gather(*(s.release_due(render_digest, now=due) for s in services))
        return [r.digests for r in reports]

    assert sorted(asyncio.run(both())) == [0, 1]
    assert len(digests(engine)) == 1


def test_quiet_hours_across_midnight_hold_then_release(engine: Engine) -> None:
    prefs = Preferences(quiet=(time(22), time(7)), timezone=BERLIN)  # UTC+1 in January
    setup_chat(engine, prefs, at=utc(2026, 1, 10, 12))
    assert next_due(engine) is None
    assert match(engine, "Evening harbour news", at=utc(2026, 1, 10, 20, 30)) == {CHAT: None}
    assert match(engine, "Harbour fire at midnight", at=utc(2026, 1, 10, 23)) == {}
    assert match(engine, "Harbour fire out", at=utc(2026, 1, 11, 3)) == {}
    ends = utc(2026, 1, 11, 6)  # 07:00 in Berlin
    assert next_due(engine) == ends
    assert release(engine, ends - timedelta(seconds=1)) == 0
    assert release(engine, ends) == 1
    assert next_due(engine) is None
    [html] = digests(engine)
    assert "2 stories" in html and html.index("Harbour fire out") < html.index("at midnight")
    assert "Evening" not in html
    with Session(engine) as s:
        assert s.exec(select(HeldAlert)).all() == []
    # After the quiet hours, alerts go at once again.
    assert match(engine, "Morning harbour news", at=utc(2026, 1, 11, 7)) == {CHAT: None}


def test_quiet_hours_sent_silently_are_not_held(engine: Engine) -> None:
    prefs = Preferences(quiet=(time(22), time(7)), quiet_mode=SILENT, previews=False)
    setup_chat(engine, prefs, at=utc(2026, 1, 10, 12))
    assert match(engine, "Harbour fire at midnight", at=utc(2026, 1, 10, 23)) == {CHAT: None}
    payloads = Payloads()
    with Session(engine) as s:
        payloads.load(s, [Delivery(chat_id=CHAT, entry_id=None)])
    assert payloads.send_options(CHAT, utc(2026, 1, 10, 23)) == (True, False)
    assert payloads.send_options(CHAT, utc(2026, 1, 10, 12)) == (False, False)
    assert payloads.send_options(777, utc(2026, 1, 10, 23)) == (False, True)


def test_back_to_instant_releases_what_was_held(engine: Engine) -> None:
    prefs = Preferences(mode=DIGEST, digest_times=(time(8),))
    setup_chat(engine, prefs, at=utc(2026, 6, 1, 12))
    match(engine, "Harbour reopens", at=utc(2026, 6, 1, 13))
    at = utc(2026, 6, 1, 14)
    info = ChatInfo(CHAT, "private", None)
    asyncio.run(ChatSettings(engine).change(info, lambda p: replace(p, mode="instant"), now=at))
    assert next_due(engine) == at
    assert release(engine, at) == 1
    assert next_due(engine) is None


def test_a_due_digest_with_nothing_held_sends_nothing(engine: Engine) -> None:
    setup_chat(engine, Preferences(mode=DIGEST, digest_times=(time(8),)), at=utc(2026, 6, 1, 12))
    assert release(engine, utc(2026, 6, 2, 8)) == 0
    assert next_due(engine) == utc(2026, 6, 3, 8)
    assert digests(engine) == []


def test_chats_without_preferences_keep_instant_alerts(engine: Engine) -> None:
    with session_scope(engine) as s:
        chats_db.ensure_chat(session=s, chat_id=CHAT, chat_type="private", title=None)
    setup_chat(engine, Preferences(), at=utc(2026, 6, 1, 12), chat=CHAT + 1)
    with session_scope(engine) as s:
        s.add(Subscription(chat_id=CHAT, topic_id=s.exec(select(Topic.id)).one() or 0))
    alerted = match(engine, "Harbour reopens", at=utc(2026, 6, 1, 23), chats=(CHAT, CHAT + 1))
    assert alerted == {CHAT: None, CHAT + 1: None}


def test_a_group_that_becomes_a_supergroup_keeps_its_settings_and_held_stories(
    engine: Engine,
) -> None:
    group, supergroup = -501, -100_501
    prefs = Preferences(mode=DIGEST, digest_times=(time(9),), timezone=BERLIN)
    setup_chat(engine, prefs, at=utc(2026, 6, 1, 12), chat=group)
    match(engine, "Harbour reopens", at=utc(2026, 6, 1, 13), chats=(group,))
    with session_scope(engine) as s:
        chats_db.migrate_chat(session=s, old_id=group, new_id=supergroup)
    with Session(engine) as s:
        assert prefs_db.load(session=s, chat_id=supergroup) == prefs
        held = s.exec(select(HeldAlert.chat_id)).all()
    assert held == [supergroup]
    assert release(engine, utc(2026, 6, 2, 7)) == 1
    assert len(digests(engine, supergroup)) == 1


def test_stored_values_that_no_longer_parse_count_as_unset(engine: Engine) -> None:
    setup_chat(engine, Preferences(quiet=(time(22), time(7))), at=utc(2026, 6, 1, 12))
    with session_scope(engine) as s:
        row = s.get(ChatPreference, CHAT)
        assert row is not None
        row.timezone, row.digest_times, row.quiet_end = "Mars/Olympus", "99:99", "7 pm"
        s.add(row)
    # The pipeline keeps alerting the chat, in UTC without quiet hours.
    assert match(engine, "Harbour fire at midnight", at=utc(2026, 6, 1, 23)) == {CHAT: None}
    with Session(engine) as s:
        assert prefs_db.load(session=s, chat_id=CHAT) == Preferences()


def test_a_story_from_several_feeds_is_one_line_of_the_digest(engine: Engine) -> None:
    setup_chat(engine, Preferences(mode=DIGEST, digest_times=(time(8),)), at=utc(2026, 1, 10, 6))
    due = next_due(engine)
    assert due is not None
    at = due - timedelta(hours=2)
    assert match(engine, "Harbour pilots end their strike", at=at, story=9001) == {}
    assert (
        match(
            engine,
            "Pilots back at work in the harbour",
            at=at + timedelta(minutes=5),
            feed_url="https://other.example/b.xml",
            story=9001,
        )
        == {}
    )
    assert match(engine, "Harbour ferry fares rise", at=at + timedelta(minutes=9)) == {}
    assert release(engine, due) == 1
    [html] = digests(engine)
    assert "Harbour pilots end their strike" in html and "Harbour ferry fares rise" in html
    assert "Pilots back at work" not in html
