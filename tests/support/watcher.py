"""Helpers for feed watcher tests: feed items, a watcher, subscriptions and outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import get_settings
from bot.db import chats as chats_db
from bot.db import feeds as feeds_db
from bot.db import subscriptions
from bot.db.engine import session_scope
from bot.db.models import Delivery, Entry, Feed
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.topics import parse_query


def item(n: int, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://news.example.org/s/{n}",
        "guid": f"s-{n}",
        "description": f"Blurb for story {n}.",
        "pub_date": datetime(2026, 11, 27, 8, n % 60, tzinfo=UTC),
        **extra,
    }


def make_watcher(engine: Engine, **settings: Any) -> FeedWatcher:
    s = get_settings(allow_private_networks=True, poll_interval_seconds=1, **settings)
    return FeedWatcher(engine=engine, settings=s, topics=TopicCache())


def subscribe(engine: Engine, chat_id: int, query: str) -> None:
    q = parse_query(query)
    with session_scope(engine) as session:
        chats_db.register_chat(session=session, chat_id=chat_id, chat_type="private", title=None)
        subscriptions.subscribe(
            session=session, chat_id=chat_id, canonical=q.canonical, display=q.display
        )


def add_feed(engine: Engine, url: str) -> None:
    with session_scope(engine) as session:
        feeds_db.add_feeds(session=session, urls=[url])


def make_due(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(sa.update(Feed).values(next_poll_at=None))


def deliveries(engine: Engine) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Delivery.chat_id, Entry.title).join(Entry, Entry.id == Delivery.entry_id)
        )
        return sorted((c, t) for c, t in rows)
