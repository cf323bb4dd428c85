"""What a chat does from the buttons under an alert and after subscribing: mute a topic for
a while, unfollow it, follow it again, and see its newest stored stories.

Every action names a topic by id and fingerprint (bot/db/mutes.py, topic_tag) and acts for
one chat only; a topic that is gone, or that the chat does not follow, changes nothing and
says so in the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import catalog as catalog_db
from bot.db import mutes
from bot.db import subscriptions as subs_db
from bot.db.models import Topic, utcnow
from bot.db.mutes import TopicRef, topic_tag
from bot.services.base import ChatInfo, Service
from bot.services.chats import remember
from bot.services.stories import LatestRequest, Story, find_latest
from bot.topics import QueryError, parse_query

__all__ = ["AlertActions", "Backfill", "TopicRef", "TopicStep", "topic_tag"]

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TopicStep:
    """The outcome of a button on one of the chat's topics."""

    topic: TopicRef | None  # None: no such topic (any more)
    subscribed: bool  # whether the chat follows it now
    changed: bool  # False: nothing needed doing (or it was refused)
    until: datetime | None = None  # when its mute ends
    catalog_id: int | None = None  # the catalog topic it is, if any (after unfollowing)


@dataclass(frozen=True, slots=True)
class Backfill:
    label: str | None  # None: no such topic, or the chat doesn't follow it
    stories: list[Story]  # newest first


def _ref(session: Session, topic_id: int, tag: str) -> TopicRef | None:
    """Return the topic the button names, or None when it is gone (or the id was reused)."""
    ref = mutes.topic_refs(session=session, topic_ids=[topic_id]).get(topic_id)
    return ref if ref is not None and ref.tag == tag else None


def _following(session: Session, chat_id: int, ref: TopicRef | None) -> bool:
    return ref is not None and mutes.is_subscribed(
        session=session, chat_id=chat_id, topic_id=ref.id
    )


class AlertActions(Service):
    """Mutes, unfollows and backfills for one chat's topic; `clock` gives the time (UTC)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        super().__init__(engine)
        self.clock = clock

    async def mute(self, chat_id: int, topic_id: int, tag: str, *, length: timedelta) -> TopicStep:
        """Mute the chat's topic for `length`, ending on a whole minute; refused unless the
        chat follows it."""
        end = self.clock() + length
        until = end.replace(second=0, microsecond=0) + timedelta(minutes=1)

        def work(s: Session) -> TopicStep:
            ref = _ref(s, topic_id, tag)
            if not _following(s, chat_id, ref):
                return TopicStep(topic=ref, subscribed=False, changed=False)
            mutes.mute(session=s, chat_id=chat_id, topic_id=topic_id, until=until)
            return TopicStep(topic=ref, subscribed=True, changed=True, until=until)

        return await self._run(work)

    async def unmute(self, chat_id: int, topic_id: int, tag: str) -> TopicStep:
        """End the chat's mute of the topic; `changed` is False when it wasn't muted."""
        now = self.clock()

        def work(s: Session) -> TopicStep:
            ref = _ref(s, topic_id, tag)
            if not _following(s, chat_id, ref):
                return TopicStep(topic=ref, subscribed=False, changed=False)
            was = mutes.unmute(session=s, chat_id=chat_id, topic_id=topic_id, now=now)
            return TopicStep(topic=ref, subscribed=True, changed=was)

        return await self._run(work)

    async def muted_until(self, chat_id: int, topic_id: int) -> datetime | None:
        """Return when the chat's mute of the topic ends, or None when it isn't muted."""
        now = self.clock()
        return await self._run(
            lambda s: mutes.muted_until(session=s, chat_id=chat_id, topic_id=topic_id, now=now)
        )

    async def unfollow(self, chat_id: int, topic_id: int, tag: str) -> TopicStep:
        """Drop the chat's subscription to the topic (and its mute)."""
        now = self.clock()

        def work(s: Session) -> TopicStep:
            ref = _ref(s, topic_id, tag)
            if ref is None:
                return TopicStep(topic=None, subscribed=False, changed=False)
            mutes.unmute(session=s, chat_id=chat_id, topic_id=topic_id, now=now)
            gone = subs_db.unsubscribe_topic(session=s, chat_id=chat_id, topic_id=topic_id)
            if gone is None:
                return TopicStep(topic=ref, subscribed=False, changed=False)
            # The topic row goes with its last chat; a catalog topic can be followed again
            # by its catalog id.
            row = mutes.catalog_topic_for(session=s, canonical=gone.canonical)
            return TopicStep(
                topic=ref,
                subscribed=False,
                changed=True,
                catalog_id=None if row is None else row.id,
            )

        return await self._run(work)

    async def follow(
        self, chat: ChatInfo, topic_id: int, tag: str, *, thread_id: int | None
    ) -> TopicStep:
        """Follow the topic again; raise TopicLimitError when the chat follows the most."""

        def work(s: Session) -> TopicStep:
            ref = _ref(s, topic_id, tag)
            topic = s.get(Topic, topic_id)
            if ref is None or topic is None:
                return TopicStep(topic=None, subscribed=False, changed=False)
            remember(s, chat)
            done = subs_db.subscribe(
                session=s,
                chat_id=chat.id,
                canonical=topic.canonical,
                display=topic.display,
                thread_id=thread_id,
            )
            return TopicStep(topic=ref, subscribed=True, changed=done.created)

        return await self._run(work)

    async def follow_catalog(
        self, chat: ChatInfo, catalog_id: int, *, thread_id: int | None
    ) -> TopicStep:
        """Follow a catalog topic again; raise TopicLimitError when the chat follows the most."""

        def work(s: Session) -> TopicStep:
            row = catalog_db.catalog_topic(session=s, catalog_id=catalog_id)
            if row is None:
                return TopicStep(topic=None, subscribed=False, changed=False)
            remember(s, chat)
            done = subs_db.subscribe(
                session=s,
                chat_id=chat.id,
                canonical=row.canonical,
                display=row.query,
                thread_id=thread_id,
            )
            assert done.topic.id is not None
            ref = TopicRef(id=done.topic.id, tag=topic_tag(row.canonical), label=row.name)
            return TopicStep(topic=ref, subscribed=True, changed=done.created)

        return await self._run(work)

    async def backfill(self, chat_id: int, topic_id: int, tag: str, *, count: int) -> Backfill:
        """Return the newest stored stories of a topic the chat follows."""

        def work(s: Session) -> Backfill:
            ref = _ref(s, topic_id, tag)
            topic = s.get(Topic, topic_id)
            if ref is None or topic is None or not _following(s, chat_id, ref):
                return Backfill(label=None, stories=[])
            try:
                query = parse_query(topic.canonical)
            except QueryError:
                return Backfill(label=ref.label, stories=[])
            request = LatestRequest(query=query, count=count)
            return Backfill(label=ref.label, stories=find_latest(session=s, request=request))

        return await self._run(work)

    async def prune_mutes(self) -> int:
        """Delete mutes that have ended; return how many."""
        now = self.clock()
        return await self._run(lambda s: mutes.prune_mutes(session=s, now=now))
