"""Muting a chat's topic (SQLite and PostgreSQL): who gets a story's alert, expiry with a
controllable clock, maintenance, unfollowing and following again, and the alert's buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import catalog, mutes, outbox, subscriptions
from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import Delivery, Entry, TopicMute
from bot.db.mutes import topic_tag
from bot.delivery.claims import OutboxLanes
from bot.delivery.jobs import SenderConfig
from bot.delivery.render import render_alert
from bot.services.alerts import AlertActions
from bot.services.base import ChatInfo
from bot.topics import parse_query
from bot.topics.catalog import DEFAULT_CATALOG

FLOOD, QUAKE = topic_tag("flood"), topic_tag("quake")
T0 = datetime(2026, 12, 1, 13, 4, 30, tzinfo=UTC)
ALICE, BOB, CAROL = 1, 2, 3


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _follow(engine: Engine, chat_id: int, *texts: str) -> list[int]:
    ids = []
    with session_scope(engine) as s:
        chats_db.ensure_chat(session=s, chat_id=chat_id, chat_type="private", title=None)
        for text in texts:
            q = parse_query(text)
            done = subscriptions.subscribe(
                session=s, chat_id=chat_id, canonical=q.canonical, display=q.display
            )
            assert done.topic.id is not None
            ids.append(done.topic.id)
    return ids


def _recipients(engine: Engine, topic_ids: list[int], now: datetime) -> dict[int, list[int]]:
    with session_scope(engine) as s:
        found = mutes.recipients(session=s, topic_ids=topic_ids, now=now)
    return {chat: ids for chat, (_, ids) in found.items()}


async def test_a_mute_skips_the_chat_until_it_ends(engine: Engine) -> None:
    flood, rain = _follow(engine, ALICE, "flood", "rain")
    _follow(engine, BOB, "flood")
    clock = Clock(T0)
    actions = AlertActions(engine, clock=clock)
    assert _recipients(engine, [flood], T0) == {ALICE: [flood], BOB: [flood]}

    step = await actions.mute(ALICE, flood, FLOOD, length=timedelta(hours=24))
    assert step.changed and step.topic is not None and step.topic.label == "flood"
    # The mute ends on the next whole minute after 24 h, the time its button shows.
    assert step.until == datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
    assert await actions.muted_until(ALICE, flood) == step.until

    # Muted: a story matching flood alone reaches Bob only; one matching rain too still
    # reaches Alice, naming rain alone.
    assert _recipients(engine, [flood], T0 + timedelta(hours=1)) == {BOB: [flood]}
    assert _recipients(engine, [flood, rain], T0 + timedelta(hours=1)) == {
        ALICE: [rain],
        BOB: [flood],
    }
    # The mute ends on its own.
    later = T0 + timedelta(hours=24, minutes=1)
    assert _recipients(engine, [flood], later) == {ALICE: [flood], BOB: [flood]}
    clock.now = later
    assert await actions.muted_until(ALICE, flood) is None
    # Maintenance deletes ended mutes and keeps running ones.
    await actions.mute(BOB, flood, FLOOD, length=timedelta(hours=24))
    assert await actions.prune_mutes() == 1
    with session_scope(engine) as s:
        assert [(m.chat_id, m.topic_id) for m in s.exec(select(TopicMute))] == [(BOB, flood)]


async def test_undo_ends_a_mute_and_a_second_mute_moves_its_end(engine: Engine) -> None:
    (flood,) = _follow(engine, ALICE, "flood")
    clock = Clock(T0)
    actions = AlertActions(engine, clock=clock)
    await actions.mute(ALICE, flood, FLOOD, length=timedelta(hours=24))
    clock.now = T0 + timedelta(hours=2)
    again = await actions.mute(ALICE, flood, FLOOD, length=timedelta(hours=24))
    assert again.until == datetime(2026, 12, 2, 15, 5, tzinfo=UTC)
    undo = await actions.unmute(ALICE, flood, FLOOD)
    assert undo.changed and undo.subscribed
    assert _recipients(engine, [flood], clock.now) == {ALICE: [flood]}
    assert not (await actions.unmute(ALICE, flood, FLOOD)).changed


async def test_buttons_for_other_chats_or_gone_topics_change_nothing(engine: Engine) -> None:
    (flood,) = _follow(engine, ALICE, "flood")
    (quake,) = _follow(engine, BOB, "quake")
    actions = AlertActions(engine, clock=Clock(T0))
    # Alice pressing a button with Bob's topic id: refused, without naming Bob's topic.
    for step in (
        await actions.mute(ALICE, quake, QUAKE, length=timedelta(hours=24)),
        await actions.unmute(ALICE, quake, QUAKE),
    ):
        assert not step.changed and not step.subscribed
    assert not (await actions.unfollow(ALICE, quake, QUAKE)).changed
    assert (await actions.backfill(ALICE, quake, QUAKE, count=3)).label is None
    # A topic id that names nothing.
    missing = quake + flood + 1000
    assert (await actions.mute(ALICE, missing, QUAKE, length=timedelta(hours=1))).topic is None
    assert (await actions.unfollow(ALICE, missing, QUAKE)).topic is None
    # The right id with another topic's fingerprint (an id SQLite handed on): refused too.
    assert (await actions.mute(ALICE, flood, QUAKE, length=timedelta(hours=1))).topic is None
    assert (await actions.unfollow(ALICE, flood, QUAKE)).topic is None
    assert (await actions.backfill(ALICE, flood, QUAKE, count=3)).label is None
    assert (
        await actions.follow(ChatInfo(ALICE, "private", None), missing, QUAKE, thread_id=None)
    ).topic is None
    with session_scope(engine) as s:
        assert list(s.exec(select(TopicMute))) == []
        assert mutes.is_subscribed(session=s, chat_id=BOB, topic_id=quake)
        assert mutes.is_subscribed(session=s, chat_id=ALICE, topic_id=flood)


async def test_unfollow_drops_the_subscription_and_its_mute(engine: Engine) -> None:
    (flood,) = _follow(engine, ALICE, "flood")
    _follow(engine, BOB, "flood")  # the topic row stays while Bob follows it
    actions = AlertActions(engine, clock=Clock(T0))
    await actions.mute(ALICE, flood, FLOOD, length=timedelta(hours=24))
    step = await actions.unfollow(ALICE, flood, FLOOD)
    assert step.changed and step.topic is not None and not step.subscribed
    assert _recipients(engine, [flood], T0) == {BOB: [flood]}
    with session_scope(engine) as s:
        assert list(s.exec(select(TopicMute))) == []
    back = await actions.follow(ChatInfo(ALICE, "private", None), flood, FLOOD, thread_id=None)
    assert back.changed and back.subscribed
    assert _recipients(engine, [flood], T0) == {ALICE: [flood], BOB: [flood]}
    assert not (
        await actions.follow(ChatInfo(ALICE, "private", None), flood, FLOOD, thread_id=None)
    ).changed


def test_alerts_carry_the_matched_topics_and_their_buttons(engine: Engine) -> None:
    with session_scope(engine) as s:
        catalog.sync_catalog(session=s, entries=DEFAULT_CATALOG, replace=False)
    sports = next(e for e in DEFAULT_CATALOG if e.name == "Sports")
    with session_scope(engine) as s:
        chats_db.ensure_chat(session=s, chat_id=ALICE, chat_type="private", title=None)
        sports_id = subscriptions.subscribe(
            session=s,
            chat_id=ALICE,
            canonical=sports.query.canonical,
            display=sports.query.display,
        ).topic.id
    (cup,) = _follow(engine, ALICE, "cup final")
    assert sports_id is not None
    with session_scope(engine) as s:
        feed = feeds_db.add_feeds(session=s, urls=["https://wire.example/sport.xml"])[0]
        assert feed.id is not None
        entry = Entry(feed_id=feed.id, key="cup", title="Rovers win the cup", summary="")
        s.add(entry)
        s.flush()
        assert entry.id is not None
        found = mutes.recipients(session=s, topic_ids=[cup, sports_id], now=T0)
        outbox.enqueue_entry(
            session=s,
            entry_id=entry.id,
            chats={c: t for c, (t, _) in found.items()},
            topics={c: ids for c, (_, ids) in found.items()},
        )
        assert s.exec(select(Delivery.topic_ids)).one() == f"{sports_id},{cup}"
    lanes = OutboxLanes(
        engine=engine,
        config=SenderConfig(),
        sender_id="test-sender",
        alert_html=render_alert,
        chat_burst=3,
    )
    with session_scope(engine) as s:
        jobs = lanes._claim_jobs(s, {}, (0, 1), 10)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.html.endswith("🔔 Your topics: <b>Sports</b>, <b>cup final</b>")
    assert job.reply_markup is not None
    data = [b.callback_data for row in job.reply_markup.inline_keyboard for b in row]
    tag = topic_tag(sports.query.canonical)
    assert data == [f"al:m:{sports_id}:{tag}", f"al:u:{sports_id}:{tag}"]


async def test_a_catalog_topic_left_by_its_last_chat_can_be_followed_again(engine: Engine) -> None:
    with session_scope(engine) as s:
        catalog.sync_catalog(session=s, entries=DEFAULT_CATALOG, replace=False)
        chats_db.ensure_chat(session=s, chat_id=CAROL, chat_type="private", title=None)
        row = catalog.find_catalog_topic(session=s, name="Sports")
        assert row is not None and row.id is not None
        catalog_id, canonical, query = row.id, row.canonical, row.query
        topic_id = subscriptions.subscribe(
            session=s, chat_id=CAROL, canonical=canonical, display=query
        ).topic.id
    assert topic_id is not None
    actions = AlertActions(engine, clock=Clock(T0))
    step = await actions.unfollow(CAROL, topic_id, topic_tag(canonical))
    assert step.changed and step.topic is not None and step.topic.label == "Sports"
    assert step.catalog_id == catalog_id
    # Its last chat left, so the topic row went; the catalog id brings it back.
    carol = ChatInfo(CAROL, "private", None)
    assert (
        await actions.follow(carol, topic_id, topic_tag(canonical), thread_id=None)
    ).topic is None
    back = await actions.follow_catalog(carol, catalog_id, thread_id=None)
    assert back.changed and back.topic is not None and back.topic.label == "Sports"
    with session_scope(engine) as s:
        assert subscriptions.chat_canonicals(session=s, chat_id=CAROL) == {canonical}
    assert (await actions.follow_catalog(carol, catalog_id + 1000, thread_id=None)).topic is None
