"""End to end: operators manage feeds in chat (the real Application against the stand-in)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.feeds.opml import parse_opml
from tests.support.chat_bot import ChatBot, chat_bot
from tests.support.feed_server import rss

ADMIN = 999
EDITOR = 998  # a second operator, for the answers to bad input
GROUP = -100_777
READERS = range(111, 116)


def _item(n: int, title: str, minutes_ago: int = 0) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://news.example.org/feeds/{n}",
        "guid": f"feeds-{n}",
        "description": f"{title}. More to follow.",
        "pub_date": datetime.now(UTC) - timedelta(minutes=minutes_ago),
    }


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ChatBot]:
    async with chat_bot(
        tmp_path,
        feeds=["/dead.xml"],
        feed_disable_after_errors=2,
        admin_ids=[ADMIN, EDITOR],
    ) as running:
        world = [_item(n, f"Harvest story {n}", 60 + n) for n in range(1, 4)]
        server = running.feeds
        server.set("/world.xml", rss("World Wire", world))
        server.set("/sport.xml", rss("Sport Desk", [_item(20, "Cup final tonight")]))
        server.set("/dead.xml", "gone", status=500, content_type="text/plain")
        server.set("/page.html", "<html><body>A web page</body></html>", content_type="text/html")
        yield running


async def test_operators_manage_feeds_in_chat(
    bot: ChatBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    tg, feeds = bot.telegram, bot.feeds
    world, sport = feeds.url("/world.xml"), feeds.url("/sport.xml")

    async def answer(chat_id: int, text: str, contains: str, **extra: Any) -> str:
        return (await bot.ask(chat_id, text, contains, within=15, **extra)).plain

    # The failing feed from FEEDS is disabled after two failures and the operator is told.
    notice = await bot.message(ADMIN, "stopped polling a feed", timeout=20)
    assert feeds.url("/dead.xml") in notice.plain and "HTTP 500" in notice.plain

    # Everyone else is refused, politely, and nothing changes.
    commands = ("/addfeed " + world, "/removefeed 1", "/feeds", "/exportfeeds", "/importfeeds")
    refusals = await asyncio.gather(
        *(answer(chat, text, "Sorry") for chat, text in zip(READERS, commands, strict=True))
    )
    assert all("only the bot's operators" in text for text in refusals)
    assert bot.db("select count(*) from feed") == [(1,)]
    assert "/addfeed" not in await answer(READERS[0], "/help", "/subscribe")
    assert "/addfeed" in await answer(EDITOR, "/help", "/subscribe")

    # Bad input gets a specific answer.
    assert "Usage: /addfeed URL" in await answer(EDITOR, "/addfeed", "Usage")
    reply = await answer(EDITOR, "/addfeed example.org/rss", "not a feed address")
    assert "http:// or https://" in reply
    reply = await answer(EDITOR, "/addfeed " + feeds.url("/page.html"), "can't use that feed")
    assert "looks like an HTML page" in reply and "Nothing was added" in reply
    assert "no feed number 7" in await answer(EDITOR, "/removefeed 7", "no feed number")

    # Adding a feed: checked, its stories become history, then new ones alert.
    assert "Subscribed" in await answer(READERS[1], "/subscribe harvest", "Subscribed")
    reply = await answer(ADMIN, "/addfeed " + world, "Added #2")
    assert "World Wire" in reply and "3 entries" in reply
    assert "already on the list as #2" in await answer(ADMIN, "/addfeed " + world, "already")
    mark = tg.mark()
    feeds.set("/world.xml", rss("World Wire", [_item(9, "Harvest record in the valley")]))
    await bot.message(READERS[1], "Harvest record in the valley", since=mark, timeout=20)
    assert not [m for m in tg.messages(READERS[1]) if "Harvest story" in m.plain]

    # /feeds shows each feed with its health.
    listing = await answer(ADMIN, "/feeds", "2 feeds")
    assert "1. ⛔" in listing and "2 failures in a row" in listing
    assert "2. ✅ World Wire" in listing and world in listing and "4 stories" in listing
    assert "PAGE is 1 to 1" in await answer(EDITOR, "/feeds 5", "Usage")

    # Export sends an OPML file.
    mark = tg.mark()
    bot.say(ADMIN, "/exportfeeds")
    await bot.wait_for(lambda: [d for d in tg.documents(ADMIN) if d.seq > mark])
    document = tg.documents(ADMIN)[-1]
    assert document.filename.endswith(".opml")
    assert {f.url for f in parse_opml(document.content)} == {feeds.url("/dead.xml"), world}

    # Import: the file with /importfeeds as its caption.
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline text="Sport" xmlUrl="{sport}"/><outline text="World" xmlUrl="{world}"/>'
        f'<outline text="Page" xmlUrl="{feeds.url("/page.html")}"/></body></opml>'
    ).encode()
    mark = bot.send_document(ADMIN, content=opml, file_name="reading.opml", caption="/importfeeds")
    report = (await bot.message(ADMIN, "Imported", since=mark, timeout=20)).plain
    assert "reading.opml: 1 added, 1 already present, 1 refused" in report
    assert "Sport Desk" in report and "looks like an HTML page" in report

    # Import: /importfeeds as a reply to a file (here in a group, which has its own ids).
    group = {"user_id": EDITOR, "chat_type": "group", "chat_title": "Editors"}
    bot.send_document(
        GROUP, content=b"title,url\nSport,https://example.org\n", file_name="feeds.csv", **group
    )
    reply = await answer(GROUP, "/importfeeds", "can't import", reply_to_message_id=1, **group)
    assert "feeds.csv" in reply and "not well-formed XML" in reply
    assert "Send an OPML file" in await answer(EDITOR, "/importfeeds", "Send an OPML file")

    # Remove by number and by URL.
    assert "Removed" in await answer(ADMIN, "/removefeed 1", "Removed")
    reply = await answer(ADMIN, "/removefeed " + sport, "Removed")
    assert "Sport Desk" in reply
    listing = await answer(ADMIN, "/feeds", "1 feed")
    assert "World Wire" in listing and "Sport Desk" not in listing

    # Nothing went wrong on the way (no handler error, no failed job).
    await bot.handled()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
