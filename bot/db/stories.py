"""Stories in storage: grouping entries, one alert per story per chat, edits, stats, pruning.

Keyword-only; every function works inside the caller's transaction. A story's id is its
first entry's id, which is also the id the grouping engine gives a new story, so the engine
and the database name stories alike (bot/stories/engine.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.db import outbox, upsert
from bot.db.feeds import feed_names
from bot.db.models import (
    OPEN_STATES,
    Delivery,
    DeliveryState,
    Entry,
    Priority,
    Story,
    StoryChat,
    UTCDateTime,
    utcnow,
)
from bot.stories.alerts import Source, edit_due

ENTRY = SQLModel.metadata.tables["entry"]
# Telegram's answer to editMessageText when the message was deleted (Bot API, 400).
EDIT_TARGET_GONE = "message to edit not found"
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A stored entry of an open story, to rebuild the grouping engine at start."""

    entry_id: int
    title: str
    summary: str  # the text grouping reads besides the title (see report_text)
    at: datetime
    story_id: int
    source: str = ""  # the feed, as the engine tells sources apart


def report_text(entry: Entry) -> str:
    """Return the text grouping reads besides the headline: the feed's blurb, else the summary."""
    return entry.description or entry.summary


def open_reports(
    *, session: Session, since: datetime, after_id: int = 0, limit: int = 200_000
) -> list[StoredReport]:
    """Return entries of stories active since `since` (entry id above `after_id`), in time order."""
    at = sa.func.coalesce(col(Entry.published_at), col(Entry.seen_at), type_=UTCDateTime())
    stmt = (
        sa.select(
            col(Entry.id),
            col(Entry.title),
            col(Entry.description),
            col(Entry.summary),
            at,
            col(Entry.story_id),
            col(Entry.feed_id),
        )
        .join(Story, col(Story.id) == col(Entry.story_id))
        .where(col(Story.last_at) >= since, col(Entry.id) > after_id)
        .order_by(at, col(Entry.id))
        .limit(limit)
    )
    return [
        StoredReport(
            entry_id=int(entry_id or 0),
            title=title,
            summary=description or summary,
            at=when,
            story_id=int(story_id or 0),
            source=f"feed {feed_id}",
        )
        for entry_id, title, description, summary, when, story_id, feed_id in session.execute(stmt)
    ]


def place_entries(*, session: Session, placed: Sequence[tuple[Entry, int, datetime]]) -> None:
    """Record each (entry, story id, time): start the stories that are new, grow the others."""
    for entry, story_id, at in placed:
        assert entry.id is not None
        if story_id != entry.id:
            grown = session.execute(
                sa.update(Story)
                .where(col(Story.id) == story_id)
                .values(
                    sources=col(Story.sources) + 1,
                    last_at=sa.case((col(Story.last_at) < at, at), else_=col(Story.last_at)),
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(grown, "rowcount", 0):
                entry.story_id = story_id
                continue
            story_id = entry.id  # the story is gone from storage: this entry starts it again
        session.execute(
            upsert.insert(session, Story).on_conflict_do_nothing(),
            [
                {
                    "id": story_id,
                    "title": entry.title[:400],
                    "first_at": at,
                    "last_at": at,
                    "sources": 1,
                    "created_at": utcnow(),
                }
            ],
        )
        entry.story_id = story_id
    rows = [{"b_id": e.id, "b_story": e.story_id} for e, _, _ in placed]
    if rows:
        session.execute(
            sa.update(ENTRY)
            .where(ENTRY.c.id == sa.bindparam("b_id"))
            .values(story_id=sa.bindparam("b_story")),
            rows,
        )


def alerted_chats(*, session: Session, story_id: int) -> dict[int, bool]:
    """Return the chats that got the story's alert, each with whether an edit is queued.

    On PostgreSQL the rows stay locked until the transaction ends, so a sender claiming
    an edit meanwhile waits and then sees this report's entry.
    """
    stmt = select(StoryChat.chat_id, StoryChat.edit_queued).where(StoryChat.story_id == story_id)
    if upsert.is_postgres(session):
        stmt = stmt.with_for_update()
    return {int(chat): bool(queued) for chat, queued in session.exec(stmt)}


def undelivered_chats(*, session: Session, story_id: int, chats: Iterable[int]) -> set[int]:
    """Return which of the story's alerted chats never got its alert (it failed for good,
    was cancelled or given up); an alert whose outcome is unknown may have arrived."""
    wanted = sorted(set(chats))
    if not wanted:
        return set()
    maybe = (*OPEN_STATES, DeliveryState.SENT, DeliveryState.UNKNOWN)
    arrived = set(
        session.exec(
            select(Delivery.chat_id).where(
                Delivery.story_id == story_id,
                col(Delivery.entry_id).is_not(None),
                col(Delivery.state).in_(maybe),
                col(Delivery.chat_id).in_(wanted),
            )
        )
    )
    return set(wanted) - arrived


def claim_alerts(*, session: Session, story_id: int, chats: Iterable[int]) -> set[int]:
    """Record that these chats get the story's alert; return those no one recorded before."""
    wanted = sorted(set(chats))
    if not wanted:
        return set()
    now = utcnow()
    table = SQLModel.metadata.tables["story_chat"]
    got: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        rows = [
            {"story_id": story_id, "chat_id": c, "edit_queued": False, "created_at": now}
            for c in wanted[start : start + _CHUNK]
        ]
        stmt = (
            upsert.insert(session, table)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(table.c.chat_id)
        )
        got.update(int(c) for c in session.execute(stmt).scalars())
    return got


def enqueue_alerts(
    *,
    session: Session,
    entry_id: int,
    story_id: int,
    chats: dict[int, int | None],
    topics: Mapping[int, Sequence[int]] | None = None,
) -> int:
    """Queue the story's alert (this entry) for chats that claimed it.

    `topics` ({chat: topic ids}) names the chat's topics the story matched.
    """
    return outbox.enqueue_entry(
        session=session, entry_id=entry_id, chats=chats, topics=topics, story_id=story_id
    )


def enqueue_edits(
    *, session: Session, story_id: int, chats: Sequence[int], interval: timedelta
) -> int:
    """Queue one edit of the story's alert per chat, due `interval` after its last edit."""
    if not chats:
        return 0
    now = utcnow()
    last = dict(
        session.exec(
            select(StoryChat.chat_id, StoryChat.edited_at).where(
                StoryChat.story_id == story_id, col(StoryChat.chat_id).in_(list(chats))
            )
        ).all()
    )
    rows = [
        {
            "chat_id": c,
            "thread_id": None,
            "entry_id": None,
            "story_id": story_id,
            "state": DeliveryState.QUEUED,
            "priority": Priority.ALERT,
            "attempts": 0,
            "next_attempt_at": edit_due(now=now, edited_at=last.get(c), interval=interval),
            "created_at": now,
        }
        for c in chats
    ]
    session.execute(sa.insert(Delivery), rows)
    session.execute(
        sa.update(StoryChat)
        .where(col(StoryChat.story_id) == story_id, col(StoryChat.chat_id).in_(list(chats)))
        .values(edit_queued=True)
        .execution_options(synchronize_session=False)
    )
    return len(rows)


# --- edits at claim time ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditPayload:
    """What an edit row needs: the alert's message, entry and feed name, and the sources."""

    message_id: int
    entry: Entry
    source: str
    others: list[Source]
    topic_ids: str | None = None  # the chat's matched topics, as its alert named them


def edit_payloads(
    *, session: Session, rows: Sequence[Delivery], now: datetime
) -> dict[int, EditPayload | str | None]:
    """Read what claimed edit rows need; mark their chats' edits as no longer queued.

    Per row: the payload, "wait" while the alert is not sent yet, or None when there is
    no alert to edit (it failed, or its outcome is unknown). A claim reads its rows'
    alerts, stories and sources in a few queries, not a few per row.
    """
    if not rows:
        return {}
    story_ids = {int(r.story_id) for r in rows if r.story_id is not None}
    chat_ids = {r.chat_id for r in rows}
    in_rows = (col(Delivery.story_id).in_(story_ids), col(Delivery.chat_id).in_(chat_ids))
    # A chat re-alerted after its first alert failed has two: the newest is the one shown.
    alerts: dict[tuple[int, int], Delivery] = {}
    found = session.exec(
        select(Delivery)
        .where(*in_rows, col(Delivery.entry_id).is_not(None))
        .order_by(col(Delivery.id))
    )
    for sent in found:
        assert sent.story_id is not None
        alerts[(sent.chat_id, sent.story_id)] = sent
    gone = {
        (int(chat), int(story))
        for chat, story in session.execute(
            sa.select(col(Delivery.chat_id), col(Delivery.story_id)).where(
                *in_rows,
                col(Delivery.entry_id).is_(None),
                col(Delivery.state) == DeliveryState.FAILED,
                sa.func.lower(col(Delivery.last_error)).like(f"%{EDIT_TARGET_GONE}%"),
            )
        )
    }
    members: dict[int, list[Entry]] = {story: [] for story in story_ids}
    stmt = (
        select(Entry)
        .where(col(Entry.story_id).in_(story_ids))
        .order_by(col(Entry.seen_at), col(Entry.id))
    )
    for member in session.exec(stmt):
        assert member.story_id is not None
        members[member.story_id].append(member)
    names = feed_names(
        session=session, feed_ids={e.feed_id for group in members.values() for e in group}
    )
    result: dict[int, EditPayload | str | None] = {}
    done: dict[int, list[int]] = {}  # story -> chats whose edit goes now (or never)
    for row in rows:
        assert row.id is not None and row.story_id is not None
        key = (row.chat_id, row.story_id)
        alert = alerts.get(key)
        if alert is not None and alert.state in OPEN_STATES:
            result[row.id] = "wait"
            continue
        done.setdefault(row.story_id, []).append(row.chat_id)
        group = members.get(row.story_id, [])
        entry = next((e for e in group if alert is not None and e.id == alert.entry_id), None)
        if alert is None or alert.message_id is None or entry is None or key in gone:
            result[row.id] = None
            continue
        others = [
            Source(name=names.get(e.feed_id, ""), link=e.link) for e in group if e.id != entry.id
        ]
        result[row.id] = EditPayload(
            message_id=int(alert.message_id),
            entry=entry,
            source=names.get(entry.feed_id, ""),
            others=others,
            topic_ids=alert.topic_ids,
        )
    # Sources that join from here on queue the next edit.
    for story_id, chats in done.items():
        session.execute(
            sa.update(StoryChat)
            .where(col(StoryChat.story_id) == story_id, col(StoryChat.chat_id).in_(chats))
            .values(edit_queued=False, edited_at=now)
            .execution_options(synchronize_session=False)
        )
    return result


# --- /latest, /stats, pruning -------------------------------------------------------------


def source_counts(*, session: Session, story_ids: Iterable[int]) -> dict[int, int]:
    """Return how many feeds reported each story."""
    wanted = sorted(set(story_ids))
    if not wanted:
        return {}
    stmt = (
        sa.select(col(Entry.story_id), sa.func.count(sa.distinct(col(Entry.feed_id))))
        .where(col(Entry.story_id).in_(wanted))
        .group_by(col(Entry.story_id))
    )
    return {int(s): int(n) for s, n in session.execute(stmt)}


def story_stats(*, session: Session, since: datetime) -> tuple[int, float]:
    """Return the stories active since `since` and their average number of reports."""
    stmt = sa.select(sa.func.count(), sa.func.avg(col(Story.sources))).where(
        col(Story.last_at) >= since
    )
    count, average = session.execute(stmt).one()
    return int(count or 0), float(average or 0.0)


def prune_stories(*, session: Session, older_than: datetime) -> int:
    """Delete stories quiet since before `older_than` that have no entry left."""
    has_entry = sa.select(col(Entry.id)).where(col(Entry.story_id) == col(Story.id)).exists()
    result = session.execute(sa.delete(Story).where(col(Story.last_at) < older_than, ~has_entry))
    return int(getattr(result, "rowcount", 0) or 0)
