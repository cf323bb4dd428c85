"""End to end: operators manage feeds in chat (`newsbot run` against the stand-in Bot API)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.feeds.opml import parse_opml
from tests.support.bot_process import bot_env, commands_registered, running_bot
from tests.support.feed_server import FeedServer, rss
from tests.support.telegram_api import FakeTelegram

ADMIN = 999
ALICE = 111
GROUP = -100_777


def _item(n: int, title: str, minutes_ago: int = 0) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://news.example.org/feeds/{n}",
        "guid": f"feeds-{n}",
        "description": f"{title}. More to follow.",
        "pub_date": datetime.now(UTC) - timedelta(minutes=minutes_ago),
    }


@dataclass
class Bot:
    telegram: FakeTelegram
    feeds: FeedServer
    process: subprocess.Popen[bytes]
    log_path: Path

    def say(self, chat_id: int, text: str, **extra: Any) -> int:
        mark = self.telegram.mark()
        self.telegram.send_message_update(
            chat_id=chat_id, user_id=extra.pop("user_id", chat_id), text=text, **extra
        )
        return mark

    def answer(self, chat_id: int, text: str, contains: str, **extra: Any) -> str:
        mark = self.say(chat_id, text, **extra)
        return self.telegram.wait_for_message(chat_id, contains, since=mark, timeout=15).plain


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    world = [_item(n, f"Harvest story {n}", 60 + n) for n in range(1, 4)]
    with FakeTelegram() as telegram, FeedServer() as feeds:
        telegram.enforce_limits()  # Telegram's: 30/s, bursts of 5 then 1/s per chat
        feeds.set("/world.xml", rss("World Wire", world))
        feeds.set("/sport.xml", rss("Sport Desk", [_item(20, "Cup final tonight")]))
        feeds.set("/dead.xml", "gone", status=500, content_type="text/plain")
        feeds.set("/page.html", "<html><body>A web page</body></html>", content_type="text/html")
        log_path = tmp_path / "newsbot.log"
        env = bot_env(
            telegram,
            tmp_path / "newsbot.db",
            FEEDS=feeds.url("/dead.xml"),
            FEED_DISABLE_AFTER_ERRORS="2",
            ADMIN_IDS=str(ADMIN),
            FETCH_ARTICLES="false",
        )
        ready = commands_registered(telegram)
        with running_bot(env, cwd=tmp_path, log_path=log_path, ready=ready) as process:
            yield Bot(telegram, feeds, process, log_path)


def test_operators_manage_feeds_in_chat(bot: Bot) -> None:
    tg, feeds = bot.telegram, bot.feeds
    world, sport = feeds.url("/world.xml"), feeds.url("/sport.xml")

    # The failing feed from FEEDS is disabled after two failures and the operator is told.
    notice = tg.wait_for_message(ADMIN, "stopped polling a feed", timeout=20)
    assert feeds.url("/dead.xml") in notice.plain and "HTTP 500" in notice.plain

    # Everyone else is refused, politely, and nothing changes.
    for command in ("/addfeed " + world, "/removefeed 1", "/feeds", "/exportfeeds", "/importfeeds"):
        assert "only the bot's operators" in bot.answer(ALICE, command, "Sorry")
    assert "/addfeed" not in bot.answer(ALICE, "/help", "/subscribe")
    assert "/addfeed" in bot.answer(ADMIN, "/help", "/subscribe")

    # Bad input gets a specific answer.
    assert "Usage: /addfeed URL" in bot.answer(ADMIN, "/addfeed", "Usage")
    reply = bot.answer(ADMIN, "/addfeed example.org/rss", "not a feed address")
    assert "http:// or https://" in reply
    reply = bot.answer(ADMIN, "/addfeed " + feeds.url("/page.html"), "can't use that feed")
    assert "looks like an HTML page" in reply and "Nothing was added" in reply
    assert "no feed number 7" in bot.answer(ADMIN, "/removefeed 7", "no feed number")

    # Adding a feed: checked, its stories become history, then new ones alert.
    assert "Subscribed" in bot.answer(ALICE, "/subscribe harvest", "Subscribed")
    reply = bot.answer(ADMIN, "/addfeed " + world, "Added #2")
    assert "World Wire" in reply and "3 entries" in reply
    assert "already on the list as #2" in bot.answer(ADMIN, "/addfeed " + world, "already")
    mark = tg.mark()
    feeds.set(
        "/world.xml",
        rss("World Wire", [_item(9, "Harvest record in the valley")]),
    )
    tg.wait_for_message(ALICE, "Harvest record in the valley", since=mark, timeout=20)
    assert not [m for m in tg.messages(ALICE) if "Harvest story" in m.plain]

    # /feeds shows each feed with its health.
    listing = bot.answer(ADMIN, "/feeds", "2 feeds")
    assert "1. ⛔" in listing and "2 failures in a row" in listing
    assert "2. ✅ World Wire" in listing and world in listing and "4 stories" in listing
    assert "PAGE is 1 to 1" in bot.answer(ADMIN, "/feeds 5", "Usage")

    # Export sends an OPML file.
    mark = tg.mark()
    bot.say(ADMIN, "/exportfeeds")
    tg.wait_for(lambda: [d for d in tg.documents(ADMIN) if d.seq > mark], what="the OPML file")
    document = tg.documents(ADMIN)[-1]
    assert document.filename.endswith(".opml")
    assert {f.url for f in parse_opml(document.content)} == {feeds.url("/dead.xml"), world}

    # Import: the file with /importfeeds as its caption.
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline text="Sport" xmlUrl="{sport}"/><outline text="World" xmlUrl="{world}"/>'
        f'<outline text="Page" xmlUrl="{feeds.url("/page.html")}"/></body></opml>'
    ).encode()
    mark = tg.mark()
    tg.send_document_update(
        chat_id=ADMIN, content=opml, file_name="reading.opml", caption="/importfeeds"
    )
    report = tg.wait_for_message(ADMIN, "Imported", since=mark, timeout=20).plain
    assert "reading.opml: 1 added, 1 already present, 1 refused" in report
    assert "Sport Desk" in report and "looks like an HTML page" in report

    # Import: /importfeeds as a reply to a file (here in a group, which has its own ids).
    tg.send_document_update(
        chat_id=GROUP,
        user_id=ADMIN,
        chat_type="group",
        chat_title="Editors",
        content=b"title,url\nSport,https://example.org\n",
        file_name="feeds.csv",
    )
    reply = bot.answer(
        GROUP,
        "/importfeeds",
        "can't import",
        user_id=ADMIN,
        chat_type="group",
        chat_title="Editors",
        reply_to_message_id=1,
    )
    assert "feeds.csv" in reply and "not well-formed XML" in reply
    assert "Send an OPML file" in bot.answer(ADMIN, "/importfeeds", "Send an OPML file")

    # Remove by number and by URL.
    assert "Removed" in bot.answer(ADMIN, "/removefeed 1", "Removed")
    reply = bot.answer(ADMIN, "/removefeed " + sport, "Removed")
    assert "Sport Desk" in reply
    listing = bot.answer(ADMIN, "/feeds", "1 feed")
    assert "World Wire" in listing and "Sport Desk" not in listing

    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(timeout=15) == 0
    log = bot.log_path.read_text(errors="replace")
    assert "Traceback" not in log
