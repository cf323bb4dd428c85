"""End to end in groups, forum supergroups and channels: who may change topics, where alerts go.

The real Application runs in the test's event loop and talks HTTP to the stand-in Bot API,
whose bot is @newsbot_test_bot.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.topics import parse_query
from bot.topics.catalog import DEFAULT_CATALOG, find_entry
from tests.support.chat_bot import chat_bot
from tests.support.live_bot import story
from tests.support.telegram_api import RequestRecord

GROUP = -100_500
FORUM = -100_600
CHANNEL = -100_700
OWNER = 501
ADMIN = 502
MEMBER = 503

HISTORY = [story(1, "Harbour pilots end strike at Port Ellis", minutes_ago=5)]
REFUSAL = "Only this chat's administrators can change its topics."


def sports() -> str:
    entry = find_entry(DEFAULT_CATALOG, "Sports")
    assert entry is not None
    return entry.query.canonical


def member_checks(records: list[RequestRecord], chat_id: int, user_id: int) -> int:
    """Count the getChatMember calls about (chat, user)."""
    return sum(
        1 for r in records if (r.params["chat_id"], r.params["user_id"]) == (chat_id, user_id)
    )


async def test_only_group_admins_change_topics(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        tg = bot.telegram
        # A group answers at most 20 messages a minute: checks that don't need GROUP's state
        # happen in groups of their own.
        refusing, sporting, reading, alerted = -100_511, -100_515, -100_516, -100_517
        refusers = [refusing - n for n in range(4)]
        for chat in (GROUP, *refusers, sporting, reading, alerted):
            tg.set_member_status(chat, OWNER, "creator")
            tg.set_member_status(chat, ADMIN, "administrator")
            tg.set_member_status(chat, MEMBER, "member")
        group = {"chat_type": "supergroup"}

        # A member is refused, with the @BotName suffix groups use and without it.
        texts = [
            "/subscribe@newsbot_test_bot harbour",
            "/subscribe harbour",
            "/subscribe",
            "/unsubscribe harbour",
        ]
        refusals = list(zip(refusers, texts, strict=True))
        await asyncio.gather(
            *(bot.ask(chat, text, REFUSAL, user_id=MEMBER, **group) for chat, text in refusals)
        )
        for chat, _ in refusals:
            assert bot.subscriptions(chat) == []

        # Administrators and the owner may.
        await bot.ask(
            GROUP, "/subscribe@newsbot_test_bot harbour", "Subscribed", user_id=ADMIN, **group
        )
        await bot.ask(
            sporting,
            "/subscribe@NewsBot_Test_Bot Sports",
            "Subscribed to Sports",
            user_id=ADMIN,
            **group,
        )
        assert bot.subscriptions(sporting) == [(sports(), None)]
        bot.follow(GROUP, "Sports", chat_type="supergroup")
        await bot.ask(GROUP, "/subscribe valdora", "Subscribed", user_id=OWNER, **group)
        assert set(bot.subscriptions(GROUP)) == {
            ("harbour", None),
            (sports(), None),
            ("valdora", None),
        }

        # Commands for another bot are not ours to answer: the next answer in the group
        # (answers to one chat go out in order) is the one to /topics.
        mark = bot.say(GROUP, "/subscribe@other_news_bot zeppelin", user_id=ADMIN, **group)
        await bot.handled()
        # Read-only commands are open to everyone.
        listing = await bot.ask(GROUP, "/topics", "follows 3 topics", user_id=MEMBER, **group)
        assert not [m for m in tg.messages(GROUP) if m.seq > mark and "zeppelin" in m.plain]
        assert "zeppelin" not in str(bot.subscriptions(GROUP))
        await bot.ask(reading, "/help@newsbot_test_bot", "What I do", user_id=MEMBER, **group)
        await bot.ask(
            reading, "/latest@newsbot_test_bot", "Harbour pilots", user_id=MEMBER, **group
        )
        await bot.ask(reading, "/testtopic harbour", "matches 1 of the 1", user_id=MEMBER, **group)

        # Buttons follow the same rule: a member's tap is refused, an admin's works.
        answer, _ = await bot.tap(listing, "✖ harbour", user_id=MEMBER, edited=False)
        assert answer.show_alert and answer.text == REFUSAL
        assert len(bot.subscriptions(GROUP)) == 3
        answer, edit = await bot.tap(listing, "✖ harbour", user_id=ADMIN)
        assert edit is not None and "follows 2 topics" in edit.plain
        menu = await bot.ask(GROUP, "/subscribe", "Pick your topics", user_id=ADMIN, **group)
        answer, _ = await bot.tap(menu, "✅ Sports", user_id=MEMBER, edited=False)
        assert answer.text == REFUSAL
        answer, edit = await bot.tap(menu, "✅ Sports", user_id=OWNER)
        assert bot.subscriptions(GROUP) == [("valdora", None)]
        # getChatMember was asked once per (chat, user): the answer is cached.
        checks = tg.requests("getChatMember")
        assert member_checks(checks, GROUP, ADMIN) == 1
        assert member_checks(checks, GROUP, OWNER) == 1
        assert member_checks(checks, GROUP, MEMBER) == 1

        # Alerts go to the group.
        bot.follow(alerted, "valdora", chat_type="supergroup")
        mark = tg.mark()
        bot.publish(story(2, "Valdora elects a new harbour chief"))
        alert = await bot.message(alerted, "Valdora elects", since=mark, timeout=15)
        assert alert.message_thread_id is None


async def test_forum_alerts_go_to_the_thread_of_subscribe(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        tg = bot.telegram
        tg.add_chat(FORUM, chat_type="supergroup", title="Newsroom", is_forum=True)
        tg.set_member_status(FORUM, ADMIN, "administrator")
        forum = {"chat_type": "supergroup", "user_id": ADMIN}

        reply = await bot.ask(FORUM, "/subscribe valdora", "Subscribed", thread=7, **forum)
        assert reply.message_thread_id == 7
        menu = await bot.ask(FORUM, "/subscribe", "Pick your topics", thread=9, **forum)
        assert menu.message_thread_id == 9
        await bot.tap(menu, "Sports", user_id=ADMIN)
        assert bot.subscriptions(FORUM) == [(sports(), 9), ("valdora", 7)]

        mark = tg.mark()
        bot.publish(
            story(3, "Valdora opens its first tidal power station"),
            story(4, "Rovers sign a new goalkeeper", categories=["Football"]),
        )
        valdora = await bot.message(FORUM, "tidal power", since=mark, timeout=15)
        football = await bot.message(FORUM, "new goalkeeper", since=mark, timeout=15)
        assert valdora.message_thread_id == 7
        assert football.message_thread_id == 9
        threads = bot.db("select thread_id from delivery where chat_id = :c order by id", c=FORUM)
        assert sorted(t for (t,) in threads) == [7, 9]


async def test_channel_posts_are_commands_from_the_channel(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        tg = bot.telegram
        tg.add_chat(CHANNEL, chat_type="channel", title="Wire Digest")
        tg.set_member_status(CHANNEL, ADMIN, "administrator")
        channel = {"chat_type": "channel"}

        # The channel itself posts the command: no user, and it is allowed.
        reply = await bot.ask(CHANNEL, "/subscribe valdora OR harbour", "Subscribed", **channel)
        assert "harbour OR valdora" in reply.plain
        await bot.ask(CHANNEL, "/topics", "follows 1 topic", **channel)
        menu = await bot.ask(CHANNEL, "/subscribe", "Pick your topics", **channel)
        assert bot.db("select type from chat where id = :c", c=CHANNEL) == [("channel",)]

        # A subscriber tapping the channel's buttons is refused; an administrator is not.
        answer, _ = await bot.tap(menu, "Science", user_id=MEMBER, edited=False)
        assert answer.text == REFUSAL
        await bot.tap(menu, "Science", user_id=ADMIN)
        expected = {parse_query("valdora OR harbour").canonical}
        entry = find_entry(DEFAULT_CATALOG, "Science")
        assert entry is not None
        expected.add(entry.query.canonical)
        assert {c for c, _ in bot.subscriptions(CHANNEL)} == expected

        mark = tg.mark()
        bot.publish(story(5, "Harbour pilots return to work in Valdora"))
        await bot.message(CHANNEL, "Harbour pilots return", since=mark, timeout=15)
