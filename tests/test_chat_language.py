"""A chat's stored language, on SQLite and PostgreSQL, and the handlers' short memory of it."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.db import chats as chats_db
from bot.db.engine import session_scope
from bot.handlers.context import LanguageCache
from bot.services.base import ChatInfo
from bot.services.chats import Chats

PRIVATE = ChatInfo(id=501, type="private", title="Ana")
GROUP = ChatInfo(id=-502, type="group", title="Crew")


async def test_start_takes_the_users_language_once_and_a_choice_replaces_it(
    engine: Engine,
) -> None:
    chats = Chats(engine)
    assert await chats.language(PRIVATE.id) is None
    assert await chats.start(PRIVATE) is None
    assert await chats.language(PRIVATE.id) is None
    assert await chats.start(PRIVATE, language="de") == "de"
    # Starting again (from an app in another language) keeps what the chat has.
    assert await chats.start(PRIVATE, language="ru") == "de"
    await chats.set_language(PRIVATE, "es")
    assert await chats.language(PRIVATE.id) == "es"
    assert await chats.start(PRIVATE, language="ru") == "es"
    # A chat choosing before /start is stored on the way.
    await chats.set_language(GROUP, "ru")
    assert await chats.language(GROUP.id) == "ru"


def test_languages_are_read_in_bulk_and_follow_a_migrating_group(engine: Engine) -> None:
    with session_scope(engine) as s:
        for chat_id in (1, 2, -3):
            chats_db.ensure_chat(session=s, chat_id=chat_id, chat_type="group", title=None)
        chats_db.set_chat_language(session=s, chat_id=1, language="de")
        chats_db.set_chat_language(session=s, chat_id=-3, language="es")
    with session_scope(engine) as s:
        assert chats_db.chat_languages(session=s, chat_ids=[1, 2, -3, 99]) == {1: "de", -3: "es"}
        assert chats_db.chat_languages(session=s, chat_ids=[]) == {}
        chats_db.migrate_chat(session=s, old_id=-3, new_id=-1003)
    with session_scope(engine) as s:
        assert chats_db.chat_language(session=s, chat_id=-1003) == "es"
        assert chats_db.chat_language(session=s, chat_id=404) is None


def test_language_cache_forgets_after_its_ttl() -> None:
    now = [0.0]
    cache = LanguageCache(ttl=60.0, clock=lambda: now[0])
    assert cache.get(7) is None
    cache.put(7, None)
    assert cache.get(7) == (None,)
    cache.put(7, "ru")
    assert cache.get(7) == ("ru",)
    now[0] = 59.9
    assert cache.get(7) == ("ru",)
    now[0] = 60.0
    assert cache.get(7) is None
