"""End to end: one story, one alert. Reports of one event from several feeds alert a chat once;
the alert is then edited (paced) to name the other sources; an unrelated story alerts as usual.

The real Application and its door run in the test's event loop (tests/support/chat_bot.py)
against the stand-in Bot API with Telegram's limits on, polling a local feed server.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.chat_bot import ChatBot, chat_bot
from tests.support.feed_server import rss
from tests.support.live_bot import WIRE, story
from tests.support.telegram_api import MessageEdit, SentMessage

ALICE = 111
BOB = 222
ADMIN = 999
OTHER = "/other.xml"
THIRD = "/third.xml"

QUAKE = "Strong earthquake shakes northern Chile, buildings damaged in Antofagasta"
QUAKE_2 = "Antofagasta earthquake: magnitude 7.1 tremor damages buildings in northern Chile"
QUAKE_3 = "Chile earthquake of magnitude 7.1 leaves Antofagasta buildings damaged"
BUDGET = "Parliament passes the spring budget after a long night of votes"


def report(path: str, n: int, title: str) -> dict[str, Any]:
    """Return a feed item of another feed, published now."""
    name = path.strip("/").removesuffix(".xml")
    return {
        "title": title,
        "link": f"https://{name}.example.net/news/{n}",
        "guid": f"{name}-{n}",
        "description": f"{title}. Rescue teams are at work.",
        "pub_date": datetime.now(UTC),
    }


def old(path: str) -> list[dict[str, Any]]:
    """Return a feed's first content: one old item, stored as history."""
    item = report(path, 0, f"Archive note from {path.strip('/')}")
    item["pub_date"] = datetime.now(UTC) - timedelta(days=3)
    return [item]


def put(bot: ChatBot, path: str, *items: dict[str, Any]) -> None:
    """Replace another feed's content (its first item stays)."""
    bot.feeds.set(path, rss(path.strip("/").removesuffix(".xml"), [*items, *old(path)]))


async def alert_to(bot: ChatBot, chat: int, contains: str, since: int) -> SentMessage:
    return await bot.message(chat, contains, since=since, timeout=20)


async def edit_of(bot: ChatBot, message: SentMessage, contains: str, since: int) -> MessageEdit:
    tg = bot.telegram
    return await bot.wait_for(
        lambda: next(
            (
                e
                for e in tg.edits(message.chat_id)
                if e.seq > since and e.message_id == message.message_id and contains in e.plain
            ),
            None,
        ),
        timeout=20,
    )


def alerts(bot: ChatBot, chat: int, contains: str) -> list[SentMessage]:
    return [m for m in bot.telegram.messages(chat) if contains in m.plain]


async def test_two_feeds_one_event_one_alert_then_an_edit(tmp_path: Path) -> None:
    feeds = {OTHER: old(OTHER)}
    async with chat_bot(
        tmp_path,
        items=[story(1, "Harbour pilots end strike", minutes_ago=90)],
        feeds=(WIRE, OTHER),
        feed_items=feeds,
        admin_ids=[ADMIN],
    ) as bot:
        bot.follow(ALICE, "earthquake", "budget")
        bot.follow(BOB, "magnitude")
        mark = bot.telegram.mark()
        bot.publish(story(2, QUAKE, f"{QUAKE}. Rescue teams are at work."))
        first = await alert_to(bot, ALICE, QUAKE, mark)
        assert "Also:" not in first.plain
        assert "🔔 Your topic: earthquake" in first.plain and first.buttons

        # The same event in other words, minutes later, from another feed: Alice's alert is
        # edited to name it (linked); Bob follows a word only this report has: one alert.
        mark = bot.telegram.mark()
        put(bot, OTHER, report(OTHER, 1, QUAKE_2))
        edit = await edit_of(bot, first, "Also: other", mark)
        assert "https://other.example.net/news/1" in edit.links
        assert edit.plain.startswith(QUAKE)
        assert edit.parse_mode == "HTML"
        # The edit keeps what the chat's alert carried: its topics line and its buttons.
        assert "🔔 Your topic: earthquake" in edit.plain
        assert bot.current(first).buttons == first.buttons
        await alert_to(bot, BOB, QUAKE_2, mark)
        # A third, unrelated story alerts as usual.
        bot.publish(story(3, BUDGET))
        await alert_to(bot, ALICE, BUDGET, mark)
        assert len(alerts(bot, ALICE, "Antofagasta")) == 1
        assert len(alerts(bot, BOB, "Antofagasta")) == 1
        assert [e for e in bot.telegram.edits(BOB) if "Also" in e.plain] == []

        # /latest shows the story once, with its number of sources; /testtopic one line.
        latest = await bot.ask(ALICE, "/latest earthquake", "Antofagasta")
        assert "2 sources" in latest.plain
        test = await bot.ask(ALICE, "/testtopic earthquake", "matches")
        assert test.plain.count("Antofagasta") == 1
        assert "(2 sources)" in test.plain
        # /stats: the harbour story (stored as history), the earthquake (2), the budget.
        stats = await bot.ask(ADMIN, "/stats", "Stories in the last 24 hours")
        assert "Stories in the last 24 hours: 3, 1.3 sources per story" in stats.plain
        sent = bot.db("select count(*) from delivery")
    # A restart sends nothing again: the alerts and the edit are recorded as sent.
    async with chat_bot(tmp_path, feeds=(WIRE, OTHER), feed_items=feeds) as again:
        await asyncio.sleep(2)
        assert [m for m in again.telegram.messages() if "Antofagasta" in m.plain] == []
        assert again.telegram.edits() == []
        assert again.db("select count(*) from delivery") == sent
        assert again.db("select count(*) from delivery where state <> 'sent'") == [(0,)]


async def test_edits_are_paced_and_gather_later_sources(tmp_path: Path) -> None:
    feeds = {OTHER: old(OTHER), THIRD: old(THIRD)}
    async with chat_bot(
        tmp_path,
        items=[story(1, "Harbour pilots end strike", minutes_ago=90)],
        feeds=(WIRE, OTHER, THIRD),
        feed_items=feeds,
        story_edit_interval_seconds=4,
    ) as bot:
        bot.follow(ALICE, "earthquake")
        mark = bot.telegram.mark()
        bot.publish(story(2, QUAKE, f"{QUAKE}. Rescue teams are at work."))
        first = await alert_to(bot, ALICE, QUAKE, mark)
        put(bot, OTHER, report(OTHER, 1, QUAKE_2))
        one = await edit_of(bot, first, "Also: other", mark)
        # A third source right after the first edit waits for the interval, then comes with
        # the second in one edit.
        put(bot, THIRD, report(THIRD, 1, QUAKE_3))
        two = await edit_of(bot, first, "third", one.seq)
        assert (two.date - one.date).total_seconds() >= 3.5
        assert "other" in two.plain and "https://third.example.net/news/1" in two.links
        assert len([e for e in bot.telegram.edits(ALICE) if "Also" in e.plain]) == 2


async def test_an_alert_deleted_in_the_chat_is_not_edited_in_a_loop(tmp_path: Path) -> None:
    feeds = {OTHER: old(OTHER), THIRD: old(THIRD)}
    async with chat_bot(
        tmp_path,
        items=[story(1, "Harbour pilots end strike", minutes_ago=90)],
        feeds=(WIRE, OTHER, THIRD),
        feed_items=feeds,
        story_edit_interval_seconds=0,
    ) as bot:
        bot.follow(ALICE, "earthquake", "budget")
        mark = bot.telegram.mark()
        bot.publish(story(2, QUAKE, f"{QUAKE}. Rescue teams are at work."))
        first = await alert_to(bot, ALICE, QUAKE, mark)
        bot.telegram.delete_by_user(ALICE, first.message_id)
        put(bot, OTHER, report(OTHER, 1, QUAKE_2))
        failed = "select last_error from delivery where entry_id is null and state = 'failed'"
        await bot.wait_for(lambda: bot.db(failed) or None, timeout=20)
        assert "message to edit not found" in bot.db(failed)[0][0].lower()
        # Another source does not try again: the alert is known to be gone.
        put(bot, THIRD, report(THIRD, 1, QUAKE_3))
        await bot.wait_for(lambda: len(bot.db(failed)) == 2 or None, timeout=20)
        assert sorted(e for (e,) in bot.db(failed)) == [
            "Message to edit not found",
            "no alert to edit",
        ]
        assert len(bot.telegram.requests("editMessageText")) == 1
        mark = bot.telegram.mark()
        bot.publish(story(3, BUDGET))
        await alert_to(bot, ALICE, BUDGET, mark)
        assert len(alerts(bot, ALICE, "Antofagasta")) == 1
        open_rows = "select count(*) from delivery where state in ('queued', 'sending')"
        await bot.wait_for(lambda: bot.db(open_rows) == [(0,)] or None)
