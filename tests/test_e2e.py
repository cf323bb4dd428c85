"""End to end: `newsbot run` as a process, against the stand-in Bot API and a local feed server.

It walks what a chat user and an operator would do: subscribe, get a summarized alert with
a link, ask for the latest story, broadcast (refused, then confirmed), unsubscribe, and a
chat that blocked the bot.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.bot_process import bot_env, commands_registered, running_bot, stop_bot
from tests.support.feed_server import FeedServer, rss
from tests.support.telegram_api import FakeTelegram

ADMIN = 999
ALICE = 111
BOB = 222
CAROL = 333
CAROL_IDS = (CAROL, str(CAROL))

ARTICLE_PAGE = """<!doctype html>
<html><head><title>Harbour deal ends strike | Example Wire</title></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<div class="promo">Get the latest updates as we post them — right on your browser</div>
<p class="stamp">Last Updated: 03/11/2026</p>
<article>
<h1>Harbour deal ends Valdora dock strike</h1>
<p>PORT ELLIS, Valdora -- Dock workers and port owners in Valdora signed a wage agreement
on Thursday that ends a six-week strike which had stranded hundreds of container ships.</p>
<p>The deal raises pay by nine percent over two years and adds a night-shift bonus, the
workers' union said in a statement.</p>
<p>Shipping lines said the backlog of vessels anchored off Port Ellis could take a month
to clear, and freight rates in the region had already begun to fall.</p>
<p>Valdora's trade minister welcomed the agreement and said the government would review
the harbour's safety rules before the end of the year.</p>
</article>
<div class="newsletter">Sign up for our morning briefing and never miss a story.</div>
<footer>Follow us on social media. Copyright Example Wire.</footer>
</body></html>
"""


@dataclass
class Stack:
    telegram: FakeTelegram
    feeds: FeedServer
    process: subprocess.Popen[bytes]
    db_path: Path
    log_path: Path
    items: list[dict[str, Any]]

    def publish(self, **item: Any) -> None:
        """Add an item at the top of the feed."""
        self.items.insert(0, item)
        self.feeds.set("/world.xml", rss("Example Wire", self.items))

    def say(self, chat_id: int, text: str, *, user_id: int | None = None) -> int:
        mark = self.telegram.mark()
        self.telegram.send_message_update(chat_id=chat_id, user_id=user_id or chat_id, text=text)
        return mark

    def db(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path) as conn:
            return list(conn.execute(sql))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _item(n: int, title: str, desc: str, minutes_ago: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://news.example.org/story/{n}",
        "guid": f"story-{n}",
        "description": desc,
        "pub_date": datetime.now(UTC) - timedelta(minutes=minutes_ago),
        **extra,
    }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    items = [
        _item(1, "Storm closes mountain passes", "Snow shut three passes overnight.", 90),
        _item(2, "Kosovo talks resume in Brussels", "Negotiators met again on Monday.", 60),
    ]
    with FakeTelegram() as telegram, FeedServer() as feeds:
        telegram.enforce_limits()  # Telegram's: 30/s, bursts of 5 then 1/s per chat
        feeds.set("/world.xml", rss("Example Wire", items))
        feeds.set("/pages/harbour", ARTICLE_PAGE, content_type="text/html; charset=utf-8")
        db_path = tmp_path / "newsbot.db"
        log_path = tmp_path / "newsbot.log"
        env = bot_env(
            telegram,
            db_path,
            FEEDS=feeds.url("/world.xml"),
            ADMIN_IDS=str(ADMIN),
            LOG_LEVEL="DEBUG",
        )
        with running_bot(
            env, cwd=tmp_path, log_path=log_path, ready=commands_registered(telegram)
        ) as process:
            s = Stack(telegram, feeds, process, db_path, log_path, items)
            # The first poll stores the feed's current stories as history (no alerts).
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if db_path.exists() and s.db("select count(*) from entry")[0][0] == 2:
                    break
                time.sleep(0.1)
            yield s


def test_full_walkthrough(stack: Stack) -> None:
    tg = stack.telegram
    commands = {c["command"] for c in tg.commands()}
    assert {"start", "help", "subscribe", "unsubscribe", "topics", "latest"} <= commands

    # /start registers the chat and says what the bot does.
    for chat in (ALICE, BOB, CAROL, ADMIN):
        mark = stack.say(chat, "/start")
        tg.wait_for_message(chat, "Welcome", since=mark)
    mark = stack.say(ALICE, "/help")
    reply = tg.wait_for_message(ALICE, "/subscribe", since=mark)
    assert "/latest" in reply.plain and "/broadcast" not in reply.plain

    # Subscribing confirms by naming the topic; bad topics are refused.
    mark = stack.say(ALICE, "/subscribe Valdora")
    assert "valdora" in tg.wait_for_message(ALICE, "Subscribed", since=mark).plain.lower()
    mark = stack.say(ALICE, "/subscribe valdora")
    tg.wait_for_message(ALICE, "already subscribed", since=mark)
    mark = stack.say(ALICE, "/subscribe !!!")
    tg.wait_for_message(ALICE, "Usage: /subscribe", since=mark)
    mark = stack.say(BOB, "/subscribe football")
    tg.wait_for_message(BOB, "Subscribed", since=mark)
    mark = stack.say(CAROL, "/subscribe valdora")
    tg.wait_for_message(CAROL, "Subscribed", since=mark)
    mark = stack.say(ALICE, "/topics")
    assert "valdora" in tg.wait_for_message(ALICE, "topic", since=mark).plain.lower()

    # History answers /latest but alerted no one.
    mark = stack.say(ALICE, "/latest")
    latest = tg.wait_for_message(ALICE, "Kosovo talks resume", since=mark)
    assert latest.parse_mode == "HTML"
    mark = stack.say(ALICE, "/latest storm")
    tg.wait_for_message(ALICE, "Storm closes mountain passes", since=mark)
    mark = stack.say(ALICE, "/latest zeppelin")
    tg.wait_for_message(ALICE, "No stored story matches", since=mark)

    # Carol blocked the bot: her alert fails with 403 and she is marked inactive.
    tg.block(CAROL)

    # A new story about Valdora: Alice gets a summarized alert with a link, Bob doesn't.
    mark = tg.mark()
    stack.publish(
        **_item(
            3,
            "Harbour deal ends Valdora dock strike",
            "Workers & owners <b>agree</b> pay rise.",
            link=stack.feeds.url("/pages/harbour"),
        )
    )
    alert = tg.wait_for_message(
        ALICE, "Harbour deal ends Valdora dock strike", since=mark, timeout=20
    )
    assert alert.parse_mode == "HTML"
    assert alert.text.startswith("<b>Harbour deal ends Valdora dock strike</b>")
    assert "Dock workers and port owners in Valdora signed a wage agreement" in alert.plain
    for clutter in ("Get the latest", "Last Updated", "Sign up", "Follow us", "PORT ELLIS"):
        assert clutter not in alert.plain
    assert stack.feeds.url("/pages/harbour") in alert.links
    assert "Example Wire" in alert.plain
    tg.wait_for(
        lambda: stack.db(f"select active from chat where id = {CAROL}") == [(0,)],
        timeout=15,
        what="Carol marked inactive",
    )
    time.sleep(1.5)
    assert [m for m in tg.messages(BOB) if "Harbour" in m.plain] == []
    # Exactly one alert per (chat, entry), even after further poll rounds.
    assert len([m for m in tg.messages(ALICE) if "Harbour deal" in m.plain]) == 1

    # A 429 is waited out and the alert still arrives.
    tg.rate_limit(ALICE, retry_after=1, times=1)
    mark = tg.mark()
    stack.publish(**_item(4, "Valdora ferries sail again", "Ferries left Port Ellis at dawn."))
    again = tg.wait_for_message(ALICE, "Valdora ferries sail again", since=mark, timeout=20)
    assert "Ferries left Port Ellis at dawn." in again.plain

    # /broadcast: refused for a non-admin, previewed and confirmed for the admin.
    carol_requests = len(
        [r for r in tg.requests() if r.params.get("chat_id") in (CAROL, str(CAROL))]
    )
    mark = stack.say(ALICE, "/broadcast hello everyone")
    tg.wait_for_message(ALICE, "only the bot's operators", since=mark)
    mark = stack.say(ADMIN, "/broadcast Maintenance tonight <22:00> & tomorrow")
    preview = tg.wait_for_message(ADMIN, "Broadcast preview", since=mark)
    assert "Maintenance tonight <22:00> & tomorrow" in preview.plain
    labels = [b["text"] for row in preview.buttons for b in row]
    assert any("Confirm" in x for x in labels) and any("Cancel" in x for x in labels)
    confirm = next(b for row in preview.buttons for b in row if "Confirm" in b["text"])
    # Alice pressing the admin's button is refused.
    tg.send_callback_update(
        chat_id=ADMIN, user_id=ALICE, message_id=preview.message_id, data=confirm["callback_data"]
    )
    mark = tg.mark()
    tg.send_callback_update(
        chat_id=ADMIN, user_id=ADMIN, message_id=preview.message_id, data=confirm["callback_data"]
    )
    for chat in (ALICE, BOB, ADMIN):
        tg.wait_for_message(chat, "Maintenance tonight <22:00> & tomorrow", since=mark, timeout=15)
    report = tg.wait_for_message(ADMIN, "Broadcast finished", since=mark, timeout=15)
    assert "delivered to 3 of 3" in report.plain and "0 failed" in report.plain
    # The blocked chat got nothing more.
    after = len([r for r in tg.requests() if r.params.get("chat_id") in CAROL_IDS])
    assert after == carol_requests
    refused = [a for a in tg.callback_answers() if "Only the bot's operators" in (a.text or "")]
    assert refused

    # /unsubscribe stops the alerts.
    mark = stack.say(ALICE, "/unsubscribe VALDORA")
    tg.wait_for_message(ALICE, "Unsubscribed from", since=mark)
    mark = stack.say(ALICE, "/unsubscribe valdora")
    tg.wait_for_message(ALICE, "isn't subscribed", since=mark)
    mark = tg.mark()
    stack.publish(**_item(5, "Valdora port reopens fully", "All berths are open again."))
    time.sleep(4)
    assert [m for m in tg.messages(ALICE) if "reopens fully" in m.plain] == []

    # Carol comes back with /start and receives alerts again.
    tg.unblock(CAROL)
    mark = stack.say(CAROL, "/start")
    tg.wait_for_message(CAROL, "Welcome", since=mark)
    mark = tg.mark()
    stack.publish(**_item(6, "Valdora elects new harbour chief", "The council voted on Friday."))
    tg.wait_for_message(CAROL, "Valdora elects new harbour chief", since=mark, timeout=20)

    # SIGTERM stops it cleanly and quickly.
    started = time.monotonic()
    assert stop_bot(stack.process) == 0
    assert time.monotonic() - started < 10
    log = stack.log()
    assert tg.token not in log
    assert tg.token.split(":")[1] not in log
    assert "Traceback" not in log
