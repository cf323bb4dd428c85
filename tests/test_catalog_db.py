"""The catalog in the database (SQLite and PostgreSQL): seeding, replacing, editing, toggling."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.db import catalog, mutes, subscriptions
from bot.db import chats as chats_db
from bot.db.engine import session_scope
from bot.db.models import Topic, utcnow
from bot.services.base import ChatInfo
from bot.services.subscriptions import Subscriptions
from bot.topics import parse_query
from bot.topics.catalog import DEFAULT_CATALOG, CatalogError, find_entry, make_entry

CHAT = 42
OTHER = 43
CHAT_INFO = ChatInfo(id=CHAT, type="private", title=None)


def _topics(s: Session) -> set[str]:
    return set(s.exec(select(Topic.canonical)))


def _chat(engine: Engine, *chat_ids: int) -> None:
    with session_scope(engine) as s:
        for chat_id in chat_ids:
            chats_db.ensure_chat(session=s, chat_id=chat_id, chat_type="private", title=None)


def _names(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return [row.name for row in catalog.catalog_topics(session=s)]


def _subscribe(engine: Engine, chat_id: int, text: str) -> None:
    q = parse_query(text)
    with session_scope(engine) as s:
        subscriptions.subscribe(
            session=s, chat_id=chat_id, canonical=q.canonical, display=q.display
        )


def test_seeding_adds_the_builtin_topics_once(engine: Engine) -> None:
    with session_scope(engine) as s:
        report = catalog.sync_catalog(session=s, entries=DEFAULT_CATALOG, replace=False)
    assert report.added == len(DEFAULT_CATALOG)
    assert _names(engine) == [e.name for e in DEFAULT_CATALOG]
    with session_scope(engine) as s:
        assert catalog.remove_catalog_topic(session=s, name="sports") is not None
        catalog.save_catalog_topic(session=s, entry=make_entry("Climate", "climate"))
    # The next start leaves the operator's changes alone.
    with session_scope(engine) as s:
        report = catalog.sync_catalog(session=s, entries=DEFAULT_CATALOG, replace=False)
    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    names = _names(engine)
    assert "Sports" not in names and names[-1] == "Climate"


def test_seeding_skips_a_builtin_topic_whose_query_is_taken(engine: Engine) -> None:
    world = find_entry(DEFAULT_CATALOG, "World")
    assert world is not None
    with session_scope(engine) as s:
        own = make_entry("Abroad", world.query.display)
        catalog.save_catalog_topic(session=s, entry=own)
        catalog.sync_catalog(session=s, entries=DEFAULT_CATALOG, replace=False)
    names = _names(engine)
    assert "World" not in names and names[0] == "Abroad"


async def test_a_file_replaces_the_catalog_and_keeps_its_chats(engine: Engine) -> None:
    _chat(engine, CHAT)
    chats = Subscriptions(engine)
    with session_scope(engine) as s:
        catalog.sync_catalog(session=s, entries=DEFAULT_CATALOG, replace=False)
        sports = catalog.find_catalog_topic(session=s, name="Sports")
        assert sports is not None and sports.id is not None
    await chats.toggle(CHAT_INFO, sports.id, thread_id=3)
    entries = [make_entry("Sports", "sport OR hockey"), make_entry("Climate", "climate")]
    with session_scope(engine) as s:
        report = catalog.sync_catalog(session=s, entries=entries, replace=True)
    assert (report.added, report.updated, report.removed) == (1, 1, len(DEFAULT_CATALOG) - 1)
    assert _names(engine) == ["Sports", "Climate"]
    listed = await chats.topics(CHAT)
    assert [(t.label, t.catalog) for t in listed] == [("Sports", True)]
    with session_scope(engine) as s:
        assert subscriptions.chat_canonicals(session=s, chat_id=CHAT) == {"hockey OR sport"}
        # The thread the chat chose stays with it.
        found = mutes.recipients(session=s, topic_ids=[listed[0].topic_id], now=utcnow())
        assert {chat: thread for chat, (thread, _) in found.items()} == {CHAT: 3}
    # Applying the same file again changes nothing.
    with session_scope(engine) as s:
        report = catalog.sync_catalog(session=s, entries=entries, replace=True)
    assert (report.added, report.updated, report.removed) == (0, 0, 0)


def test_editing_moves_chats_and_merges_duplicates(engine: Engine) -> None:
    _chat(engine, CHAT, OTHER)
    with session_scope(engine) as s:
        catalog.save_catalog_topic(session=s, entry=make_entry("Rail", "rail OR train"))
    _subscribe(engine, CHAT, "train OR rail")
    _subscribe(engine, OTHER, "train OR rail")
    _subscribe(engine, OTHER, "rail OR railway")  # already follows the new query
    with session_scope(engine) as s:
        saved = catalog.save_catalog_topic(session=s, entry=make_entry("Rail", "rail OR railway"))
    assert not saved.created and saved.moved == 1
    with session_scope(engine) as s:
        for chat in (CHAT, OTHER):
            assert subscriptions.chat_canonicals(session=s, chat_id=chat) == {"rail OR railway"}
        # The old query had no one left: its row is gone.
        assert _topics(s) == {"rail OR railway"}
        with pytest.raises(CatalogError, match="Rail already has this query"):
            catalog.save_catalog_topic(session=s, entry=make_entry("Trains", "railway OR rail"))


async def test_toggle_and_remove(engine: Engine) -> None:
    _chat(engine, CHAT)
    chats = Subscriptions(engine)
    with session_scope(engine) as s:
        saved = catalog.save_catalog_topic(session=s, entry=make_entry("Rail", "rail"))
        rail_id = saved.topic.id
        assert rail_id is not None
    on = await chats.toggle(CHAT_INFO, rail_id, thread_id=None)
    assert on.name == "Rail" and on.subscribed
    assert on.view.followed == {"rail"}
    off = await chats.toggle(CHAT_INFO, rail_id, thread_id=None)
    assert off.name == "Rail" and not off.subscribed
    assert off.view.followed == set()
    with session_scope(engine) as s:
        assert subscriptions.chat_canonicals(session=s, chat_id=CHAT) == set()
    await chats.toggle(CHAT_INFO, rail_id, thread_id=None)
    with session_scope(engine) as s:
        catalog.remove_catalog_topic(session=s, name="RAIL")
    # A removed topic can't be toggled; its chats keep the query, shown as such.
    gone = await chats.toggle(CHAT_INFO, rail_id, thread_id=None)
    assert gone.name is None and gone.view.followed == {"rail"}
    listed = await chats.topics(CHAT)
    assert [(t.label, t.catalog) for t in listed] == [("rail", False)]
    with session_scope(engine) as s:
        assert catalog.remove_catalog_topic(session=s, name="Rail") is None
        # Adding it again brings the same row back, at the end.
        again = catalog.save_catalog_topic(session=s, entry=make_entry("Rail", "rail"))
        assert again.created and again.topic.id == rail_id
        topic_id = listed[0].topic_id
        assert (
            subscriptions.unsubscribe_topic(session=s, chat_id=CHAT, topic_id=topic_id) is not None
        )
        assert subscriptions.unsubscribe_topic(session=s, chat_id=CHAT, topic_id=topic_id) is None


async def test_toggle_respects_the_topic_limit(engine: Engine) -> None:
    _chat(engine, CHAT)
    for n in range(subscriptions.MAX_TOPICS_PER_CHAT):
        _subscribe(engine, CHAT, f"filler{n}")
    with session_scope(engine) as s:
        saved = catalog.save_catalog_topic(session=s, entry=make_entry("Rail", "rail"))
        assert saved.topic.id is not None
    with pytest.raises(subscriptions.TopicLimitError):
        await Subscriptions(engine).toggle(CHAT_INFO, saved.topic.id, thread_id=None)
