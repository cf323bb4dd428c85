"""What a chat does from the buttons under an alert and after subscribing: mute a topic for
a while, unfollow it, follow it again, and see its newest stored stories.

Every action names a topic by id and acts for one chat only; a topic that is gone, or that
the chat does not follow, changes nothing and says so in the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import mutes
from bot.db import subscriptions as subs_db
from bot.db.models import Topic, utcnow
from bot.services.base import ChatInfo, Service
from bot.services.chats import remember
from bot.services.stories import LatestRequest, Story, find_latest
from bot.topics import QueryError, parse_query

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class TopicStep:
    """The outcome of a button on one of the chat's topics."""

    label: str | None  # None: no such topic (any more)
    subscribed: bool  # whether the chat follows it now
    changed: bool  # False: nothing needed doing (or it was refused)
    until: datetime | None = None  # when its mute ends


@dataclass(frozen=True, slots=True)
class Backfill:
    label: str | None  # None: no such topic, or the chat doesn't follow it
    stories: list[Story]  # newest first


def _label(session: Session, topic_id: int) -> str | None:
    return mutes.topic_labels(session=session, topic_ids=[topic_id]).get(topic_id)


class AlertActions(Service):
    """Mutes, unfollows and backfills for one chat's topic; `clock` gives the time (UTC)."""

    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        super().__init__(engine)
        self.clock = clock

    async def mute(self, chat_id: int, topic_id: int, *, length: timedelta) -> TopicStep:
        """Mute the chat's topic for `length` (ending on a whole minute); refused unless the
        chat follows it."""
        end = self.clock() + length
        until = end.replace(second=0, microsecond=0) + timedelta(minutes=1)

        def work(s: Session) -> TopicStep:
            label = _label(s, topic_id)
            if label is None or not mutes.is_subscribed(
                session=s, chat_id=chat_id, topic_id=topic_id
            ):
                return TopicStep(label=label, subscribed=False, changed=False)
            mutes.mute(session=s, chat_id=chat_id, topic_id=topic_id, until=until)
            return TopicStep(label=label, subscribed=True, changed=True, until=until)

        return await self._run(work)

    async def unmute(self, chat_id: int, topic_id: int) -> TopicStep:
        """End the chat's mute of the topic; `changed` is False when it wasn't muted."""
        now = self.clock()

        def work(s: Session) -> TopicStep:
            label = _label(s, topic_id)
            following = label is not None and mutes.is_subscribed(
                session=s, chat_id=chat_id, topic_id=topic_id
            )
            if not following:
                return TopicStep(label=label, subscribed=False, changed=False)
            was = mutes.unmute(session=s, chat_id=chat_id, topic_id=topic_id, now=now)
            return TopicStep(label=label, subscribed=True, changed=was)

        return await self._run(work)

    async def muted_until(self, chat_id: int, topic_id: int) -> datetime | None:
        """Return when the chat's mute of the topic ends, or None when it isn't muted."""
        now = self.clock()
        return await self._run(
            lambda s: mutes.muted_until(session=s, chat_id=chat_id, topic_id=topic_id, now=now)
        )

    async def unfollow(self, chat_id: int, topic_id: int) -> TopicStep:
        """Drop the chat's subscription to the topic (and its mute)."""
        now = self.clock()

        def work(s: Session) -> TopicStep:
            label = _label(s, topic_id)
            if label is None:
                return TopicStep(label=None, subscribed=False, changed=False)
            mutes.unmute(session=s, chat_id=chat_id, topic_id=topic_id, now=now)
            gone = subs_db.unsubscribe_topic(session=s, chat_id=chat_id, topic_id=topic_id)
            return TopicStep(label=label, subscribed=False, changed=gone is not None)

        return await self._run(work)

    async def follow(self, chat: ChatInfo, topic_id: int, *, thread_id: int | None) -> TopicStep:
        """Follow the topic again; raise TopicLimitError when the chat follows the most."""

        def work(s: Session) -> TopicStep:
            label = _label(s, topic_id)
            topic = s.get(Topic, topic_id)
            if label is None or topic is None:
                return TopicStep(label=None, subscribed=False, changed=False)
            remember(s, chat)
            done = subs_db.subscribe(
                session=s,
                chat_id=chat.id,
                canonical=topic.canonical,
                display=topic.display,
                thread_id=thread_id,
            )
            return TopicStep(label=label, subscribed=True, changed=done.created)

        return await self._run(work)

    async def backfill(self, chat_id: int, topic_id: int, *, count: int) -> Backfill:
        """Return the newest stored stories of a topic the chat follows."""

        def work(s: Session) -> Backfill:
            label = _label(s, topic_id)
            topic = s.get(Topic, topic_id)
            if (
                label is None
                or topic is None
                or not mutes.is_subscribed(session=s, chat_id=chat_id, topic_id=topic_id)
            ):
                return Backfill(label=None, stories=[])
            try:
                query = parse_query(topic.canonical)
            except QueryError:
                return Backfill(label=label, stories=[])
            request = LatestRequest(query=query, count=count)
            return Backfill(label=label, stories=find_latest(session=s, request=request))

        return await self._run(work)

    async def prune_mutes(self) -> int:
        """Delete mutes that have ended; return how many."""
        now = self.clock()
        return await self._run(lambda s: mutes.prune_mutes(session=s, now=now))
