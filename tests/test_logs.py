"""Logs: one line per event with stable keys, text or JSON, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.ops.logs import (
    JsonFormatter,
    Redactor,
    RedactTokens,
    TextFormatter,
    secrets_of,
    setup_logging,
)
from tests.support.bot_process import feed_seeded
from tests.support.feed_server import FeedServer, rss
from tests.support.telegram_api import FakeTelegram

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-"
SECRET_HALF = TOKEN.split(":")[1]
OTHER_TOKEN = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsXyz"
CHAT = 3131


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:], root.level = saved


def _boom() -> None:
    raise ValueError(f"bad call to https://api.telegram.org/bot{TOKEN}/getMe")


def test_text_lines_carry_keys_and_no_secrets(captured: io.StringIO) -> None:
    setup_logging("DEBUG", secrets=secrets_of(TOKEN, "hook-secret-0123456789"), stream=captured)
    log = logging.getLogger("bot.test")
    log.info("feed %d polled", 7, extra={"feed": 7, "chat": -100123, "entry": "a b=c"})
    log.warning("token %s and half %s", TOKEN, SECRET_HALF, extra={"url": f"/bot{TOKEN}/x"})
    log.info("someone else's %s", OTHER_TOKEN)
    log.debug("webhook secret hook-secret-0123456789")
    try:
        _boom()
    except ValueError:
        log.exception("it failed", extra={"feed": 9})
        log.warning("retrying", exc_info=True)
    lines = captured.getvalue().splitlines()
    assert len(lines) == 6  # one line per event, tracebacks included
    assert lines[0].endswith('bot.test: feed 7 polled feed=7 chat=-100123 entry="a b=c"')
    assert " INFO " in lines[0] and lines[0][:4].isdigit() and "Z " in lines[0]
    text = captured.getvalue()
    for secret in (TOKEN, SECRET_HALF, OTHER_TOKEN, "hook-secret-0123456789"):
        assert secret not in text
    assert "<redacted>" in lines[1] and "url=/bot<redacted>/x" in lines[1]
    assert 'feed=9 traceback="Traceback (most recent call last):\\n' in lines[4]
    assert "ValueError: bad call to https://api.telegram.org/bot<redacted>/getMe" in lines[4]
    # Below ERROR, an exception is its last line only.
    assert lines[5].endswith(
        'retrying error="ValueError: bad call to https://api.telegram.org/bot<redacted>/getMe"'
    )


def test_json_lines(captured: io.StringIO) -> None:
    setup_logging("INFO", secrets=[TOKEN], fmt="json", stream=captured)
    log = logging.getLogger("bot.sender")
    log.info("sent to %d", CHAT, extra={"chat": CHAT, "entry": 5, "note": TOKEN})
    try:
        _boom()
    except ValueError:
        log.error("failed", exc_info=True, extra={"chat": CHAT})
    events = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert events[0]["msg"] == f"sent to {CHAT}"
    assert events[0]["level"] == "INFO" and events[0]["logger"] == "bot.sender"
    assert events[0]["chat"] == CHAT and events[0]["entry"] == 5
    assert events[0]["note"] == "<redacted>"
    assert events[0]["ts"].endswith("Z")
    assert events[1]["traceback"].startswith("Traceback")
    assert TOKEN not in captured.getvalue() and SECRET_HALF not in captured.getvalue()


def test_redactor_and_filter() -> None:
    redact = Redactor([TOKEN, SECRET_HALF, "", None, "short"])
    assert redact(f"x{TOKEN}y {SECRET_HALF}") == "x<redacted>y <redacted>"
    assert redact("short stays") == "short stays"  # too short to be a secret worth hiding
    record = logging.LogRecord("n", logging.INFO, "f", 1, "a %s", (TOKEN,), None)
    record.chat = f"chat of {TOKEN}"
    assert RedactTokens([TOKEN]).filter(record)
    assert record.getMessage() == "a <redacted>" and record.chat == "chat of <redacted>"
    assert TextFormatter().format(record).endswith('chat="chat of <redacted>"')
    assert json.loads(JsonFormatter().format(record))["chat"] == "chat of <redacted>"


def test_debug_run_never_logs_the_token(tmp_path: Path) -> None:
    """A real run at DEBUG in JSON: every line parses, no secret anywhere."""
    items = [
        {
            "title": "Valley rail line reopens",
            "link": "https://news.example.org/rail",
            "guid": "r1",
            "description": "Trains ran again on Sunday.",
            "pub_date": datetime.now(UTC) - timedelta(hours=2),
        }
    ]
    with FakeTelegram() as telegram, FeedServer() as feeds:
        feeds.set("/feed.xml", rss("Log Wire", items))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "FEEDS"))},
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'newsbot.db'}",
            "FEEDS": feeds.url("/feed.xml"),
            "POLL_INTERVAL_SECONDS": "1",
            "ALLOW_PRIVATE_NETWORKS": "true",
            "FETCH_ARTICLES": "false",
            "METRICS_PORT": "0",
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "json",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            telegram.wait_for(lambda: telegram.commands(), timeout=30, what="setMyCommands")
            # The first poll stores the feed's stories as history.
            deadline = time.monotonic() + 20
            while not feed_seeded(tmp_path / "newsbot.db"):
                assert time.monotonic() < deadline, "the feed was never polled"
                time.sleep(0.05)
            mark = telegram.mark()
            telegram.send_message_update(chat_id=CHAT, text="/subscribe rail")
            telegram.wait_for_message(CHAT, "Subscribed", since=mark)
            items.insert(
                0,
                {
                    "title": "Second rail line opens",
                    "link": "https://news.example.org/rail2",
                    "guid": "r2",
                    "description": "Another line opened.",
                    "pub_date": datetime.now(UTC),
                },
            )
            feeds.set("/feed.xml", rss("Log Wire", items))
            telegram.wait_for_message(CHAT, "Second rail line", since=mark, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                out, err = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
    assert process.returncode == 0
    text = (out + err).decode("utf-8", "replace")
    assert telegram.token not in text
    assert telegram.token.split(":")[1] not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) > 20
    events = [json.loads(line) for line in lines]  # every line is one JSON event
    assert {"ts", "level", "logger", "msg"} <= set(events[0])
    assert any(e["level"] == "DEBUG" for e in events)


async def test_watcher_lines_name_their_feed_and_entry(
    captured: io.StringIO, sqlite_engine: Engine
) -> None:
    """With LOG_FORMAT=json an operator can follow one feed, story by story."""
    from bot.config import get_settings
    from bot.ingest.topic_cache import TopicCache
    from bot.ingest.watcher import FeedWatcher
    from tests.support.watcher import add_feed, item, make_due, subscribe

    setup_logging("DEBUG", fmt="json", stream=captured)
    with FeedServer() as server:
        server.set("/good.xml", rss("Good", [item(1, "Old harvest story")]))
        server.set("/down.xml", "oops", status=500)
        add_feed(sqlite_engine, server.url("/good.xml"))
        add_feed(sqlite_engine, server.url("/down.xml"))
        subscribe(sqlite_engine, CHAT, "harvest")
        settings = get_settings(allow_private_networks=True, fetch_articles=False)
        watcher = FeedWatcher(
            engine=sqlite_engine, settings=settings, topics=TopicCache(), parse_in_processes=False
        )
        try:
            await watcher.poll_round()
            server.set("/good.xml", rss("Good", [item(2, "Record harvest"), item(1, "Old")]))
            make_due(sqlite_engine)
            await watcher.poll_round()
        finally:
            await watcher.aclose()
    events = [json.loads(line) for line in captured.getvalue().splitlines()]
    mine = [e for e in events if e["logger"].startswith("bot.ingest.")]
    failed = [e for e in mine if e["msg"].startswith("feed 2 ")]
    assert failed and all(e["level"] == "WARNING" and e["feed"] == 2 for e in failed)
    news = [e for e in mine if "new stories, 1 alerts queued" in e["msg"]]
    assert [e["feed"] for e in news] == [1]
    stored = [e for e in mine if e["msg"].startswith("story ")]
    assert [(e["feed"], e["entry"]) for e in stored] == [(1, "guid:s-2")]
