"""A chat's topics: following and dropping them by query, by catalog name or by button.

Every method is one transaction: the catalog lookup, storing the chat and the change itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlmodel import Session

from bot.db import catalog as catalog_db
from bot.db import subscriptions as subs_db
from bot.db.mutes import topic_tag
from bot.db.subscriptions import MAX_TOPICS_PER_CHAT, TopicLimitError
from bot.services.base import ChatInfo, Service
from bot.services.catalog import CatalogItem, choose_topic, read_catalog
from bot.services.chats import remember
from bot.topics import QueryError, parse_query

__all__ = [
    "MAX_TOPICS_PER_CHAT",
    "CatalogView",
    "ChatTopic",
    "Dropped",
    "Subscribed",
    "Subscriptions",
    "Toggled",
    "TopicLimitError",
    "Unsubscribed",
]


@dataclass(frozen=True, slots=True)
class Subscribed:
    label: str  # the catalog name, else the query as the chat wrote it
    created: bool  # False: the chat already followed it
    active: bool  # False: alerts are paused for the chat (it blocked the bot once)
    topic_id: int | None = None
    topic_tag: str = ""  # its fingerprint for buttons (bot/db/mutes.py)


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    label: str
    removed: bool  # False: the chat didn't follow it


@dataclass(frozen=True, slots=True)
class ChatTopic:
    """One of a chat's topics as shown to it: the catalog name when there is one."""

    topic_id: int
    label: str
    catalog: bool


@dataclass(frozen=True, slots=True)
class CatalogView:
    """The catalog as buttons for one chat: which topics it follows."""

    items: list[CatalogItem]
    followed: set[str]  # canonical queries


@dataclass(frozen=True, slots=True)
class Toggled:
    name: str | None  # None: the topic left the catalog meanwhile
    subscribed: bool
    view: CatalogView
    topic_id: int | None = None  # the topic followed, when it was turned on
    topic_tag: str = ""


@dataclass(frozen=True, slots=True)
class Dropped:
    label: str | None  # None: the chat no longer followed it
    topics: list[ChatTopic]  # what the chat follows now


def _view(session: Session, chat_id: int) -> CatalogView:
    return CatalogView(
        items=read_catalog(session),
        followed=subs_db.chat_canonicals(session=session, chat_id=chat_id),
    )


def _chat_topics(session: Session, chat_id: int) -> list[ChatTopic]:
    names = catalog_db.catalog_names(session=session)
    found = []
    for topic in subs_db.chat_topics(session=session, chat_id=chat_id):
        assert topic.id is not None
        name = names.get(topic.canonical)
        found.append(
            ChatTopic(topic_id=topic.id, label=name or topic.display, catalog=name is not None)
        )
    return found


class Subscriptions(Service):
    async def subscribe(self, chat: ChatInfo, raw: str, *, thread_id: int | None) -> Subscribed:
        """Follow a query or catalog name; alerts go to `thread_id` in forum groups.

        Raise QueryError for input that is neither, TopicLimitError when the chat follows
        as many topics as allowed.
        """

        def work(s: Session) -> Subscribed:
            choice = choose_topic(raw, read_catalog(s))
            active = remember(s, chat)
            outcome = subs_db.subscribe(
                session=s,
                chat_id=chat.id,
                canonical=choice.query.canonical,
                display=choice.query.display,
                thread_id=thread_id,
            )
            return Subscribed(
                label=choice.label,
                created=outcome.created,
                active=active,
                topic_id=outcome.topic.id,
                topic_tag=topic_tag(outcome.topic.canonical),
            )

        return await self._run(work)

    async def unsubscribe(self, chat_id: int, raw: str) -> Unsubscribed:
        """Stop following a query or catalog name; raise QueryError for neither."""

        def work(s: Session) -> Unsubscribed:
            choice = choose_topic(raw, read_catalog(s))
            # A catalog name wins, but a chat may follow the same word as its own query.
            canonicals = [choice.query.canonical]
            if choice.name is not None:
                with contextlib.suppress(QueryError):
                    canonicals.append(parse_query(raw).canonical)
            # The first that the chat follows is dropped.
            removed = any(
                subs_db.unsubscribe(session=s, chat_id=chat_id, canonical=c) is not None
                for c in dict.fromkeys(canonicals)
            )
            return Unsubscribed(label=choice.label, removed=removed)

        return await self._run(work)

    async def catalog(self, chat: ChatInfo) -> CatalogView:
        """Return the catalog for the chat's buttons (storing the chat if it is new)."""

        def work(s: Session) -> CatalogView:
            remember(s, chat)
            return _view(s, chat.id)

        return await self._run(work)

    async def toggle(self, chat: ChatInfo, catalog_id: int, *, thread_id: int | None) -> Toggled:
        """Follow the catalog topic, or stop following it; raise TopicLimitError when full."""

        def work(s: Session) -> Toggled:
            remember(s, chat)
            row = catalog_db.catalog_topic(session=s, catalog_id=catalog_id)
            if row is None:
                return Toggled(name=None, subscribed=False, view=_view(s, chat.id))
            dropped = subs_db.unsubscribe(session=s, chat_id=chat.id, canonical=row.canonical)
            topic_id = None
            if dropped is None:
                topic_id = subs_db.subscribe(
                    session=s,
                    chat_id=chat.id,
                    canonical=row.canonical,
                    display=row.query,
                    thread_id=thread_id,
                ).topic.id
            return Toggled(
                name=row.name,
                subscribed=dropped is None,
                view=_view(s, chat.id),
                topic_id=topic_id,
                topic_tag=topic_tag(row.canonical),
            )

        return await self._run(work)

    async def topics(self, chat_id: int) -> list[ChatTopic]:
        """Return the chat's topics in the order they were added."""
        return await self._run(lambda s: _chat_topics(s, chat_id))

    async def drop(self, chat_id: int, topic_id: int) -> Dropped:
        """Drop one of the chat's topics (a /topics button); return what it follows now."""

        def work(s: Session) -> Dropped:
            names = catalog_db.catalog_names(session=s)
            topic = subs_db.unsubscribe_topic(session=s, chat_id=chat_id, topic_id=topic_id)
            label = None if topic is None else names.get(topic.canonical, topic.display)
            return Dropped(label=label, topics=_chat_topics(s, chat_id))

        return await self._run(work)
