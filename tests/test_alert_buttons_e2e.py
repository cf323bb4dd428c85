"""End to end: the matched-topics line and the Mute / Unfollow buttons under alerts, and
"Show 3 latest" after subscribing.

The real Application handles each update (tests/support/chat_bot.py) and answers through the
door to the stand-in Bot API, Telegram's limits on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.db.mutes import topic_tag
from bot.topics.catalog import DEFAULT_CATALOG, find_entry
from tests.support.chat_bot import ChatBot, chat_bot
from tests.support.live_bot import story
from tests.support.telegram_api import CallbackAnswer, SentMessage

ALICE = 111
BOB = 222
CAROL = 333
GROUP = -100_800
ADMIN = 801
MEMBER = 802

HISTORY = [
    story(1, "Harbour pilots end strike at Port Ellis", minutes_ago=1),
    story(2, "Old harbour crane is torn down", minutes_ago=2),
    story(3, "Council minutes, part 3", minutes_ago=3),
    story(4, "Valdora opens a new harbour bridge", minutes_ago=4),
    story(5, "Harbour ferry timetable changes", minutes_ago=5),
    story(6, "Rovers win the cup final", minutes_ago=6, categories=["Sport"]),
]


def labels(message: SentMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


def data_of(message: SentMessage) -> list[str]:
    return [b["callback_data"] for row in message.buttons for b in row]


async def press(bot: ChatBot, message: SentMessage, data: str, *, user_id: int) -> CallbackAnswer:
    """Send a press with any data on the message (as a forged or stale client would)."""
    tg = bot.telegram
    query_id = tg.send_callback_update(
        chat_id=message.chat_id, user_id=user_id, message_id=message.message_id, data=data
    )
    bot.deliver()
    return await bot.wait_for(
        lambda: next((a for a in tg.callback_answers() if a.callback_query_id == query_id), None)
    )


def after(bot: ChatBot, chat_id: int, mark: int) -> list[SentMessage]:
    return [m for m in bot.telegram.messages(chat_id) if m.seq > mark]


async def test_show_3_latest_after_subscribing(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        reply = await bot.ask(ALICE, "/subscribe harbour", "Subscribed to harbour")
        assert labels(reply) == ["📰 Show 3 latest"]
        assert len(bot.telegram.messages(ALICE)) == 1  # nothing is sent unasked
        mark = bot.telegram.mark()
        answer, edit = await bot.tap(reply, "Show 3 latest", user_id=ALICE)
        assert answer.text == "The 3 newest stories"
        assert edit is not None and bot.current(reply).buttons == []
        sent = await bot.wait_for(
            lambda: (found := after(bot, ALICE, mark)) and len(found) >= 3 and found
        )
        assert [m.plain.split("\n")[0] for m in sent] == [
            "Harbour pilots end strike at Port Ellis",
            "Old harbour crane is torn down",
            "Valdora opens a new harbour bridge",
        ]
        # A second press of the used button (a double tap) sends nothing more.
        again = await press(bot, reply, data_of(reply)[0], user_id=ALICE)
        assert again.text is not None and "shown already" in again.text
        await asyncio.sleep(0.3)
        assert len(after(bot, ALICE, mark)) == 3

        # Turning a catalog topic on offers its newest stories too.
        menu = await bot.ask(BOB, "/subscribe", "Pick your topics")
        _, edit = await bot.tap(menu, "Sports", user_id=BOB)
        now = bot.current(menu)
        assert "📰 Show 3 latest: Sports" in labels(now)
        mark = bot.telegram.mark()
        answer, _ = await bot.tap(now, "Show 3 latest", user_id=BOB)
        assert answer.text == "The 1 newest story"
        await bot.message(BOB, "Rovers win the cup final", since=mark)
        assert "✅ Sports" in labels(bot.current(menu))
        assert not any("Show 3" in text for text in labels(bot.current(menu)))

        # A press for a topic the chat no longer follows, or with data the message never
        # carried, shows nothing.
        carol = await bot.ask(CAROL, "/subscribe ferry", "Subscribed")
        await bot.ask(CAROL, "/unsubscribe ferry", "Unsubscribed")
        mark = bot.telegram.mark()
        refused = await press(bot, carol, data_of(carol)[0], user_id=CAROL)
        assert refused.text is not None and "doesn't follow" in refused.text
        topic = bot.db("select id from topic where canonical = 'harbour'")[0][0]
        forged = await press(bot, carol, f"bf:{topic}:{topic_tag('harbour')}", user_id=CAROL)
        assert forged.text is not None and "shown already" in forged.text
        junk = await press(bot, carol, "bf:1x", user_id=CAROL)
        assert junk.text == "That button is out of date."
        await asyncio.sleep(0.3)
        assert after(bot, CAROL, mark) == []


async def test_alert_buttons_mute_and_unfollow_for_one_chat(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        tg = bot.telegram
        tg.set_member_status(GROUP, ADMIN, "administrator")
        tg.set_member_status(GROUP, MEMBER, "member")
        bot.follow(ALICE, "harbour")
        bot.follow(BOB, "harbour", "Sports")
        bot.follow(GROUP, "harbour", chat_type="supergroup")
        harbour = bot.db("select id from topic where canonical = 'harbour'")[0][0]
        tag = topic_tag("harbour")

        mark = tg.mark()
        bot.publish(story(10, "Harbour cranes return to Port Ellis", categories=["Football"]))
        alice = await bot.message(ALICE, "Harbour cranes", since=mark, timeout=15)
        bob = await bot.message(BOB, "Harbour cranes", since=mark)
        group = await bot.message(GROUP, "Harbour cranes", since=mark)
        assert "🔔 Your topic: harbour" in alice.plain
        # Several of the chat's topics matched: all are named, buttons for the first.
        assert "🔔 Your topics: harbour, Sports" in bob.plain
        assert labels(alice) == ["🔕 Mute harbour for 24 h", "✖ Unfollow harbour"]
        assert data_of(bob) == [f"al:m:{harbour}:{tag}", f"al:u:{harbour}:{tag}"]

        # In a group only administrators may press them.
        answer = await press(bot, group, f"al:m:{harbour}:{tag}", user_id=MEMBER)
        assert answer.text == "Only this chat's administrators can change its topics."
        assert labels(bot.current(group))[0].startswith("🔕 Mute")
        answer, _ = await bot.tap(group, "Mute", user_id=ADMIN)
        assert answer.text is not None and "Muted harbour until" in answer.text

        # Alice mutes harbour: the buttons say until when, with an undo.
        answer, edit = await bot.tap(alice, "Mute", user_id=ALICE)
        assert answer.text is not None and answer.text.startswith("🔕 Muted harbour until")
        assert edit is not None and edit.method == "editMessageReplyMarkup"
        muted = labels(bot.current(alice))
        assert muted[0].startswith("🔕 Muted until ") and muted[0].endswith(" UTC · Undo")
        assert bot.db("select count(*) from topic_mute")[0][0] == 2

        # The next harbour story reaches Bob, not Alice nor the group.
        mark = tg.mark()
        bot.publish(story(11, "Harbour tug fleet grows"))
        await bot.message(BOB, "Harbour tug fleet", since=mark, timeout=15)
        queued = bot.db(
            "select d.chat_id from delivery d join entry e on e.id = d.entry_id"
            " where e.title = 'Harbour tug fleet grows'"
        )
        assert queued == [(BOB,)]
        assert not any("Harbour tug" in m.plain for m in after(bot, ALICE, mark))

        # Undo: alerts are back on and the buttons with them.
        answer, _ = await bot.tap(bot.current(alice), "Undo", user_id=ALICE)
        assert answer.text == "Alerts for harbour are back on."
        assert labels(bot.current(alice)) == ["🔕 Mute harbour for 24 h", "✖ Unfollow harbour"]

        # Bob unfollows harbour from the alert: only that subscription goes.
        answer, _ = await bot.tap(bob, "Unfollow", user_id=BOB)
        assert answer.text == "Stopped following harbour."
        sports = find_entry(DEFAULT_CATALOG, "Sports")
        assert sports is not None
        assert bot.subscriptions(BOB) == [(sports.query.canonical, None)]
        assert bot.subscriptions(ALICE) == [("harbour", None)]
        assert labels(bot.current(bob)) == ["Unfollowed · Follow again"]

        # Stale and forged presses are answered and change nothing.
        stale = await press(bot, bob, f"al:m:{harbour}:{tag}", user_id=BOB)
        assert stale.text is not None and "doesn't follow" in stale.text
        gone = await press(bot, bob, f"al:u:987654:{tag}", user_id=BOB)
        assert gone.text is not None and "no longer exists" in gone.text
        other = await press(bot, bob, f"al:u:{harbour}:{topic_tag('sport')}", user_id=BOB)
        assert other.text is not None and "no longer exists" in other.text
        junk = await press(bot, bob, "al:q:1", user_id=BOB)
        assert junk.text == "That button is out of date."
        assert bot.db("select count(*) from topic_mute where chat_id = :c", c=BOB)[0][0] == 0
        assert bot.subscriptions(BOB) == [(sports.query.canonical, None)]
        assert labels(bot.current(bob)) == ["Unfollowed · Follow again"]

        # Follow again.
        answer, _ = await bot.tap(bot.current(bob), "Follow again", user_id=BOB)
        assert answer.text == "✅ Following harbour again."
        assert ("harbour", None) in bot.subscriptions(BOB)
        assert labels(bot.current(bob))[0] == "🔕 Mute harbour for 24 h"
