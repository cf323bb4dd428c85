"""Seed a running bot's database with a fan-out, and its feed with stories (tests and bench)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.db import mutes, outbox
from bot.db.engine import session_scope
from bot.db.models import Chat, Entry, Subscription, Topic, utcnow
from tests.support.bot_process import bot_env
from tests.support.telegram_api import FakeTelegram


def queue_alert(engine: Engine, chats: Sequence[int], *, word: str, title: str) -> None:
    """Register the chats, subscribe them to `word` and queue one story's alerts to them.

    The story belongs to the first feed, so the database must hold one (FEEDS).
    """
    with session_scope(engine) as s:
        s.execute(
            sa.insert(Chat),
            [{"id": c, "type": "private", "title": None, "active": True} for c in chats],
        )
        topic = Topic(canonical=word, display=word)
        s.add(topic)
        s.flush()
        s.execute(sa.insert(Subscription), [{"chat_id": c, "topic_id": topic.id} for c in chats])
        feed_id = s.execute(sa.text("select min(id) from feed")).scalar_one()
        entry = Entry(
            feed_id=feed_id,
            key=f"alert-{word}",
            title=title,
            summary="Officials asked residents to stay indoors. Schools close early.",
            link=f"https://valley.example/{word}",
        )
        s.add(entry)
        s.flush()
        # Who the watcher would alert: the topic's active chats that did not mute it.
        found = mutes.recipients(session=s, topic_ids=[topic.id or 0], now=utcnow())
        chats = {chat: thread for chat, (thread, _) in found.items()}
        outbox.enqueue_entry(session=s, entry_id=entry.id or 0, chats=chats)


def feed_items(stories: Sequence[tuple[str, str]], *, prefix: str) -> list[dict[str, Any]]:
    """Return feed items for (title, description) pairs, newest first, ten minutes apart."""
    now = datetime.now(UTC)
    return [
        {
            "title": title,
            "link": f"https://news.example.org/{prefix}/{n}",
            "guid": f"{prefix}-{n}",
            "description": desc,
            "pub_date": now - timedelta(minutes=10 * (n + 1)),
        }
        for n, (title, desc) in enumerate(stories)
    ]


def fanout_env(
    telegram: FakeTelegram, *, database_url: str, feed_url: str, folder: Path, **settings: str
) -> dict[str, str]:
    """Return the environment of a bot on `database_url` watching one feed, at 30 msg/s."""
    return bot_env(
        telegram,
        folder / "unused.db",
        DATABASE_URL=database_url,
        FEEDS=feed_url,
        FETCH_ARTICLES="false",
        SEND_RATE="30",
        **settings,
    )
