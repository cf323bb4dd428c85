"""The matching index follows topic changes one at a time, whichever process makes them."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import chats as chats_db
from bot.db import subscriptions, topic_rows
from bot.db.engine import make_engine, session_scope
from bot.db.models import Topic, utcnow
from bot.ingest.topic_cache import TopicCache
from bot.topics import Document, parse_query

STORY = Document.from_fields(
    title="Glacier lake drained near the harbour", summary="Kosovo talks resume.", categories=()
)


def follow(engine: Engine, chat_id: int, text: str) -> None:
    query = parse_query(text)
    with session_scope(engine) as session:
        chats_db.ensure_chat(session=session, chat_id=chat_id, chat_type="private", title=None)
        subscriptions.subscribe(
            session=session, chat_id=chat_id, canonical=query.canonical, display=query.display
        )


def leave(engine: Engine, chat_id: int, text: str) -> None:
    with session_scope(engine) as session:
        subscriptions.unsubscribe(
            session=session, chat_id=chat_id, canonical=parse_query(text).canonical
        )


def matched(cache: TopicCache, engine: Engine) -> set[str]:
    """Return the canonical queries the story matches, as the cache sees them."""
    with session_scope(engine) as session:
        (ids,) = cache.match_all(session=session, docs=[STORY])
        return {t.canonical for t in session.exec(select(Topic)) if t.id in ids}


def test_changes_from_another_process_reach_the_index(engine: Engine) -> None:
    other = make_engine(str(engine.url))  # another process's engine on the same database
    try:
        follow(other, 1, "glacier")
        cache = TopicCache()
        assert matched(cache, engine) == {"glacier"}
        assert cache.builds == 1

        follow(other, 2, "harbour OR port")
        follow(other, 3, "kosovo talks")
        follow(other, 4, "volcano")
        assert matched(cache, engine) == {"glacier", "harbour OR port", "kosovo talk"}
        leave(other, 1, "glacier")  # its last follower: the topic row goes
        follow(other, 5, "harbour OR port")  # a second follower changes no topic
        assert matched(cache, engine) == {"harbour OR port", "kosovo talk"}
        assert len(cache) == 3
        # Every change was applied to the index built at first; it was never rebuilt.
        assert cache.builds == 1
    finally:
        other.dispose()


def test_an_index_behind_pruned_changes_rebuilds(engine: Engine) -> None:
    cache = TopicCache()
    follow(engine, 1, "glacier")
    assert matched(cache, engine) == {"glacier"}
    for n, text in enumerate(["harbour", "kosovo", "lake"], start=2):
        follow(engine, n, text)
    leave(engine, 2, "harbour")
    with session_scope(engine) as session:
        pruned = topic_rows.prune_topic_changes(session=session, older_than=utcnow() + timedelta(1))
        assert pruned >= 3  # the newest change is always kept
        assert topic_rows.change_bounds(session=session)[0] > 0
    assert matched(cache, engine) == {"glacier", "kosovo", "lake"}
    assert cache.builds == 2


def test_a_change_committing_late_is_not_skipped(engine: Engine) -> None:
    """Changes become visible in the order of their ids, so a reader never steps past one."""
    cache = TopicCache()
    follow(engine, 1, "glacier")
    assert matched(cache, engine) == {"glacier"}
    with session_scope(engine) as session:
        chats_db.ensure_chat(session=session, chat_id=2, chat_type="private", title=None)
        chats_db.ensure_chat(session=session, chat_id=3, chat_type="private", title=None)

    first_open = threading.Event()
    release = threading.Event()
    second_done = threading.Event()

    def slow_writer() -> None:
        query = parse_query("harbour")
        with session_scope(engine) as session:
            subscriptions.subscribe(
                session=session, chat_id=2, canonical=query.canonical, display=query.display
            )
            first_open.set()
            release.wait(30)

    def quick_writer() -> None:
        first_open.wait(30)
        follow(engine, 3, "kosovo")
        second_done.set()

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=quick_writer)]
    for thread in threads:
        thread.start()
    try:
        assert first_open.wait(30)
        # Give the second change every chance to commit first (it can't: it waits for the
        # open one), and read the changes meanwhile.
        second_done.wait(1.0)
        assert matched(cache, engine) <= {"glacier", "kosovo"}
    finally:
        release.set()
        for thread in threads:
            thread.join(30)
    assert second_done.is_set()
    assert matched(cache, engine) == {"glacier", "harbour", "kosovo"}
