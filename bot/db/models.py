"""SQLModel tables. The schema itself is owned by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class DeliveryState(StrEnum):
    """Where an outbox row is; stored as its value in a 16-character column."""

    QUEUED = "queued"
    SENDING = "sending"  # claimed by a sender
    SENT = "sent"
    FAILED = "failed"  # refused for good (or the chat is unreachable)
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"  # the connection broke mid-send: it may have arrived
    DEAD = "dead"  # given up after too many attempts


OPEN_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING)
# What an operator counts as failed; `unknown` is reported on its own.
FAILED_STATES = (DeliveryState.FAILED, DeliveryState.CANCELLED, DeliveryState.DEAD)


class BroadcastState(StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class Priority(IntEnum):
    """Outbox lanes: a breaking alert is claimed before any queued broadcast."""

    ALERT = 0
    BROADCAST = 1


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Store aware UTC datetimes; give them back aware on every backend (SQLite drops zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Chat(SQLModel, table=True):
    """A chat that started the bot: private chat, group, supergroup or channel."""

    id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    type: str = Field(max_length=16)
    title: str | None = Field(default=None, max_length=256)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    # The chat's language ("de"); None until it chooses one or starts the bot.
    language: str | None = Field(default=None, max_length=8)


class Topic(SQLModel, table=True):
    """A distinct query, shared by every chat that subscribes to it."""

    id: int | None = Field(default=None, primary_key=True)
    canonical: str = Field(max_length=600, unique=True)
    display: str = Field(max_length=600)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class TopicChange(SQLModel, table=True):
    """A topic row that was added or deleted; each process's matching index catches up here.

    Ids are handed out in commit order (see bot/db/topic_rows.py), so "every change after
    id N" never misses one that commits late.
    """

    __tablename__ = "topic_change"

    id: int | None = Field(default=None, primary_key=True)
    topic_id: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Subscription(SQLModel, table=True):
    """A chat's subscription to a topic; alerts go to `thread_id` in forum groups."""

    chat_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="chat.id", primary_key=True, ondelete="CASCADE"
    )
    topic_id: int = Field(foreign_key="topic.id", primary_key=True, ondelete="CASCADE", index=True)
    thread_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class TopicMute(SQLModel, table=True):
    """A chat's topic that sends it no alerts until `until` (a button under an alert)."""

    __tablename__ = "topic_mute"

    chat_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="chat.id", primary_key=True, ondelete="CASCADE"
    )
    topic_id: int = Field(foreign_key="topic.id", primary_key=True, ondelete="CASCADE")
    until: datetime = Field(sa_type=UTCDateTime(), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class CatalogTopic(SQLModel, table=True):
    """A named topic of the catalog offered as buttons; its query is a Topic's canonical form.

    Removed topics stay as inactive rows, so a built-in topic an operator removed is not
    added back at the next start.
    """

    __tablename__ = "catalog_topic"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, unique=True)  # the case-folded name
    name: str = Field(max_length=32)
    query: str = Field(max_length=600)
    canonical: str = Field(max_length=600)
    position: int = Field(default=0)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Feed(SQLModel, table=True):
    """A watched feed and its health."""

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2048, unique=True)
    title: str | None = Field(default=None, max_length=300)
    enabled: bool = Field(default=True)
    # False until the first successful poll stored the feed's entries as history.
    seeded: bool = Field(default=False)
    etag: str | None = Field(default=None, max_length=512)
    last_modified: str | None = Field(default=None, max_length=128)
    error_count: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    last_polled_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # When the feed's content was last read; a 304 leaves it. Entries whose `last_seen_at`
    # is older were not in that content (see bot/db/entries.py, prune_entries).
    last_parsed_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Entry(SQLModel, table=True):
    """A story seen in a feed, identified by `key` within its feed."""

    __table_args__ = (sa.UniqueConstraint("feed_id", "key", name="uq_entry_feed_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", ondelete="CASCADE", index=True)
    key: str = Field(max_length=600)
    link: str | None = Field(default=None, max_length=2048)
    link_key: str | None = Field(default=None, max_length=2048, index=True)
    title: str = Field(max_length=400)
    summary: str = Field(default="", sa_type=sa.Text)
    # The feed's own description of the story (its blurb); topics match it with the summary.
    description: str = Field(default="", sa_type=sa.Text, sa_column_kwargs={"server_default": ""})
    categories: str = Field(default="", sa_type=sa.Text)  # newline-separated
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), index=True)
    # The last time the entry was in its feed's content.
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    # Stored when the feed was first seen, or a copy of a story another feed brought first:
    # kept for /latest and dedup, alerts no one.
    is_history: bool = Field(default=False)
    # The story (reports of one event) the entry belongs to; see bot/stories/engine.py.
    story_id: int | None = Field(
        default=None, foreign_key="story.id", ondelete="SET NULL", index=True
    )


class Story(SQLModel, table=True):
    """Reports of one event from any feed; its id is its first entry's (see bot/db/stories.py)."""

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    title: str = Field(max_length=400)  # the first report's headline
    first_at: datetime = Field(sa_type=UTCDateTime())
    last_at: datetime = Field(sa_type=UTCDateTime(), index=True)
    sources: int = Field(default=1)  # entries that joined it
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class StoryChat(SQLModel, table=True):
    """A chat that got a story's alert: the row that makes it one alert per story per chat.

    `edit_queued` is set while an edit adding sources waits in the outbox; `edited_at` is when
    the last edit was claimed, so the next waits STORY_EDIT_INTERVAL_SECONDS after it.
    """

    __tablename__ = "story_chat"

    story_id: int = Field(foreign_key="story.id", primary_key=True, ondelete="CASCADE")
    chat_id: int = Field(
        sa_type=sa.BigInteger,
        foreign_key="chat.id",
        primary_key=True,
        ondelete="CASCADE",
        index=True,
    )
    edit_queued: bool = Field(default=False)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Broadcast(SQLModel, table=True):
    """An operator's message to every active chat."""

    id: int | None = Field(default=None, primary_key=True)
    admin_user_id: int = Field(sa_type=sa.BigInteger)
    admin_chat_id: int = Field(sa_type=sa.BigInteger)
    admin_message_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    text: str = Field(sa_type=sa.Text)
    state: str = Field(default=BroadcastState.DRAFT, max_length=16)
    total: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class Delivery(SQLModel, table=True):
    """One outbox row: a message for one chat, an alert (entry), a broadcast or a digest."""

    __table_args__ = (
        sa.UniqueConstraint("chat_id", "entry_id", name="uq_delivery_chat_entry"),
        sa.UniqueConstraint("chat_id", "broadcast_id", name="uq_delivery_chat_broadcast"),
        sa.Index("ix_delivery_due", "state", "next_attempt_at"),
        # The sender's claim: due rows of one priority, oldest first (bot/db/outbox.py).
        sa.Index("ix_delivery_claim", "state", "priority", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=sa.BigInteger, foreign_key="chat.id", ondelete="CASCADE")
    thread_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    entry_id: int | None = Field(default=None, foreign_key="entry.id", ondelete="CASCADE")
    broadcast_id: int | None = Field(
        default=None, foreign_key="broadcast.id", ondelete="CASCADE", index=True
    )
    digest_id: int | None = Field(
        default=None, foreign_key="digest.id", ondelete="CASCADE", index=True
    )
    # The chat's topics the story matched, as comma-separated ids (alerts only).
    topic_ids: str | None = Field(default=None, max_length=200)
    state: str = Field(default=DeliveryState.QUEUED, max_length=16)
    priority: int = Field(default=Priority.ALERT, sa_type=sa.SmallInteger)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # The sender holding a "sending" row, and when it claimed it (see OutboxSender).
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    # An alert names its story; a row with a story and no entry is an edit of the chat's
    # alert for that story (adding the sources that joined since). `message_id` is the
    # Telegram message a sent alert became.
    story_id: int | None = Field(
        default=None, foreign_key="story.id", ondelete="CASCADE", index=True
    )
    message_id: int | None = Field(default=None, sa_type=sa.BigInteger)


class OutboxSender(SQLModel, table=True):
    """A live outbox sender process; its heartbeat keeps its claimed rows its own."""

    __tablename__ = "outbox_sender"

    id: str = Field(max_length=64, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ChatPreference(SQLModel, table=True):
    """How and when news reaches a chat; a chat without a row has the defaults (instant).

    `digest_times` is a comma-separated list of local times ("08:00,18:00"), the quiet
    hours local times too, all in `timezone` (an IANA name). `next_digest_at` is when the
    chat's next digest is due (bot/digests/times.py, next_release); a release claims it
    by moving it on, so a digest goes once whatever restarts in between.
    """

    __tablename__ = "chat_preference"

    chat_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="chat.id", primary_key=True, ondelete="CASCADE"
    )
    mode: str = Field(default="instant", max_length=16)
    digest_times: str = Field(default="", max_length=64)
    quiet_start: str | None = Field(default=None, max_length=5)
    quiet_end: str | None = Field(default=None, max_length=5)
    quiet_mode: str = Field(default="hold", max_length=16)
    timezone: str = Field(default="UTC", max_length=64)
    link_previews: bool = Field(default=True)
    next_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime(), index=True)
    last_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class HeldAlert(SQLModel, table=True):
    """A matched story waiting for the chat's next digest (digest mode or quiet hours)."""

    __tablename__ = "held_alert"

    chat_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="chat.id", primary_key=True, ondelete="CASCADE"
    )
    entry_id: int = Field(foreign_key="entry.id", primary_key=True, ondelete="CASCADE")
    topic_id: int | None = Field(default=None, foreign_key="topic.id", ondelete="SET NULL")
    thread_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    held_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Digest(SQLModel, table=True):
    """One digest message, rendered when it was released; an outbox row sends it."""

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="chat.id", ondelete="CASCADE", index=True
    )
    html: str = Field(sa_type=sa.Text)
    plain: str = Field(sa_type=sa.Text)
    stories: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
