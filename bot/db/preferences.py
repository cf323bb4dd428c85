"""Chat preferences, stories held for digests, and digests waiting in the outbox.

Every function works inside the caller's transaction; keyword-only arguments. The rules
(when a digest is due, whether a chat holds alerts now) are pure, in bot/digests/times.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from bot.db import upsert
from bot.db.models import (
    CatalogTopic,
    Chat,
    ChatPreference,
    Delivery,
    DeliveryState,
    Digest,
    Entry,
    HeldAlert,
    Priority,
    Subscription,
    Topic,
    UTCDateTime,
    utcnow,
)
from bot.digests.items import DigestItem
from bot.digests.times import (
    DIGEST,
    HOLD,
    Preferences,
    TimeError,
    format_time,
    holds,
    next_release,
    parse_time,
    quiet_ends,
)
from bot.digests.zones import ZoneError, zone

HELD = SQLModel.metadata.tables["held_alert"]
PREFS = SQLModel.metadata.tables["chat_preference"]
DIGESTS = SQLModel.metadata.tables["digest"]
DELIVERY = SQLModel.metadata.tables["delivery"]
CHUNK = 500


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def to_preferences(row: ChatPreference) -> Preferences:
    """Return a stored row as pure preferences; a value that no longer parses counts as unset.

    Values are checked when chats set them; this keeps a zone a later zone database dropped
    from ever stopping the pipeline.
    """
    try:
        times = tuple(parse_time(t) for t in row.digest_times.split(",") if t)
    except TimeError:
        times = ()
    quiet = None
    try:
        if row.quiet_start and row.quiet_end:
            quiet = (parse_time(row.quiet_start), parse_time(row.quiet_end))
    except TimeError:
        quiet = None
    try:
        zone(row.timezone)
        timezone = row.timezone
    except ZoneError:
        timezone = "UTC"
    return Preferences(
        mode=row.mode,
        digest_times=times,
        quiet=quiet,
        quiet_mode=row.quiet_mode,
        timezone=timezone,
        previews=row.link_previews,
    )


def _values(prefs: Preferences) -> dict[str, object]:
    return {
        "mode": prefs.mode,
        "digest_times": ",".join(format_time(t) for t in prefs.digest_times),
        "quiet_start": format_time(prefs.quiet[0]) if prefs.quiet else None,
        "quiet_end": format_time(prefs.quiet[1]) if prefs.quiet else None,
        "quiet_mode": prefs.quiet_mode,
        "timezone": prefs.timezone,
        "link_previews": prefs.previews,
    }


def load(*, session: Session, chat_id: int) -> Preferences:
    """Return the chat's preferences (the defaults when it never changed any)."""
    row = session.get(ChatPreference, chat_id)
    return to_preferences(row) if row is not None else Preferences()


def load_many(*, session: Session, chat_ids: Iterable[int]) -> dict[int, Preferences]:
    """Return the preferences of the chats that have any; the others have the defaults."""
    ids = list(set(chat_ids))
    found: dict[int, Preferences] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = select(ChatPreference).where(
            col(ChatPreference.chat_id).in_(ids[start : start + CHUNK])
        )
        for row in session.exec(stmt):
            found[row.chat_id] = to_preferences(row)
    return found


def has_held(*, session: Session, chat_id: int) -> bool:
    """Tell whether stories wait for the chat's next digest."""
    stmt = select(HeldAlert.entry_id).where(HeldAlert.chat_id == chat_id).limit(1)
    return session.exec(stmt).first() is not None


def save(*, session: Session, chat_id: int, prefs: Preferences, now: datetime) -> None:
    """Store the chat's preferences and when its next digest is due under them."""
    due = next_release(prefs, now, held=has_held(session=session, chat_id=chat_id))
    values = {**_values(prefs), "next_digest_at": due, "updated_at": now}
    stmt = upsert.insert(session, ChatPreference).values(chat_id=chat_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["chat_id"], set_=values))


def move_chat(*, session: Session, old_id: int, new_id: int) -> None:
    """Carry a chat's preferences and held stories over to its new id (group → supergroup)."""
    row = session.get(ChatPreference, old_id)
    if row is not None and session.get(ChatPreference, new_id) is None:
        session.add(ChatPreference(**{**row.model_dump(), "chat_id": new_id}))
        session.flush()
    there = select(HeldAlert.entry_id).where(HeldAlert.chat_id == new_id)
    session.execute(
        sa.update(HELD)
        .where(HELD.c.chat_id == old_id, HELD.c.entry_id.not_in(there))
        .values(chat_id=new_id)
    )
    session.execute(sa.delete(HELD).where(HELD.c.chat_id == old_id))


# --- holding alerts ---------------------------------------------------------------------------


def _holding_rows(session: Session, chat_ids: list[int]) -> list[ChatPreference]:
    rows: list[ChatPreference] = []
    for start in range(0, len(chat_ids), CHUNK):
        stmt = select(ChatPreference).where(
            col(ChatPreference.chat_id).in_(chat_ids[start : start + CHUNK]),
            sa.or_(
                col(ChatPreference.mode) == DIGEST,
                sa.and_(
                    col(ChatPreference.quiet_start).is_not(None),
                    col(ChatPreference.quiet_mode) == HOLD,
                ),
            ),
        )
        rows.extend(session.exec(stmt))
    return rows


def _first_topics(session: Session, chat_ids: list[int], topic_ids: list[int]) -> dict[int, int]:
    """Return, per chat, the first of the topics it follows (the heading its story goes under)."""
    found: dict[int, int] = {}
    for start in range(0, len(chat_ids), CHUNK):
        stmt = select(Subscription.chat_id, sa.func.min(Subscription.topic_id)).where(
            col(Subscription.chat_id).in_(chat_ids[start : start + CHUNK]),
            col(Subscription.topic_id).in_(topic_ids),
        )
        for chat_id, topic_id in session.exec(stmt.group_by(col(Subscription.chat_id))):
            found[chat_id] = topic_id
    return found


def route_alerts(
    *,
    session: Session,
    entry_id: int,
    chats: dict[int, int | None],
    topic_ids: Iterable[int],
    now: datetime,
) -> dict[int, int | None]:
    """Hold the story for chats that wait for a digest now; return the chats to alert at once."""
    if not chats:
        return chats
    held: dict[int, datetime | None] = {}  # chat -> when its quiet hours end (None: digest)
    for row in _holding_rows(session, list(chats)):
        prefs = to_preferences(row)
        if holds(prefs, now):
            held[row.chat_id] = None if prefs.mode == DIGEST else quiet_ends(prefs, now)
    if not held:
        return chats
    topics = _first_topics(session, list(held), list(topic_ids))
    rows = [
        {
            "chat_id": chat_id,
            "entry_id": entry_id,
            "topic_id": topics.get(chat_id),
            "thread_id": chats[chat_id],
            "held_at": now,
        }
        for chat_id in held
    ]
    session.execute(upsert.insert(session, HeldAlert).on_conflict_do_nothing(), rows)
    # Quiet hours: the held stories go when they end, unless a digest is due sooner.
    for chat_id, ends in held.items():
        if ends is None:
            continue
        session.execute(
            sa.update(ChatPreference)
            .where(
                col(ChatPreference.chat_id) == chat_id,
                sa.or_(
                    col(ChatPreference.next_digest_at).is_(None),
                    col(ChatPreference.next_digest_at) > ends,
                ),
            )
            .values(next_digest_at=ends)
            .execution_options(synchronize_session=False)
        )
    return {c: t for c, t in chats.items() if c not in held}


# --- releasing digests ------------------------------------------------------------------------


def due_chats(
    *, session: Session, now: datetime, limit: int
) -> list[tuple[int, datetime, Preferences]]:
    """Return (chat, when due, preferences) of active chats whose digest is due, oldest first."""
    stmt = (
        select(ChatPreference)
        .join(Chat, col(Chat.id) == col(ChatPreference.chat_id))
        .where(col(ChatPreference.next_digest_at) <= now, col(Chat.active))
        .order_by(col(ChatPreference.next_digest_at), col(ChatPreference.chat_id))
        .limit(limit)
    )
    if upsert.is_postgres(session):
        # Held until the transaction ends: a concurrent release skips these chats.
        stmt = stmt.with_for_update(skip_locked=True, of=ChatPreference)
    return [
        (row.chat_id, row.next_digest_at, to_preferences(row))
        for row in session.exec(stmt)
        if row.next_digest_at is not None
    ]


def claim_releases(
    *, session: Session, due: Sequence[tuple[int, datetime, Preferences]], now: datetime
) -> list[int]:
    """Move each chat's due digest on to its next one; return the chats this release claimed.

    An update applies only while `next_digest_at` is still the value read, so of two
    processes (or a process and its restarted self) exactly one releases a digest. On
    PostgreSQL the rows are locked by `due_chats` already, so one batched statement does.
    """
    values = [
        {"b_chat": chat_id, "b_due": when, "b_next": next_release(prefs, now, held=False)}
        for chat_id, when, prefs in due
    ]
    stmt = (
        sa.update(PREFS)
        .where(PREFS.c.chat_id == sa.bindparam("b_chat"))
        .where(PREFS.c.next_digest_at == sa.bindparam("b_due", type_=UTCDateTime()))
        .values(next_digest_at=sa.bindparam("b_next", type_=UTCDateTime()), last_digest_at=now)
    )
    if upsert.is_postgres(session):
        if values:
            session.execute(stmt, values)
        return [chat_id for chat_id, _, _ in due]
    return [
        chat_id
        for (chat_id, _, _), v in zip(due, values, strict=True)
        if _rowcount(session.execute(stmt, v)) == 1
    ]


@dataclass(frozen=True, slots=True)
class Taken:
    """The stories taken out of a chat's hold for its digest."""

    items: list[DigestItem]
    thread_id: int | None


def _when(entry: Entry) -> datetime:
    return entry.published_at or entry.seen_at


def take_held(*, session: Session, chat_ids: Sequence[int]) -> dict[int, Taken]:
    """Remove the chats' held stories and return them, newest first per chat."""
    pairs: list[tuple[int, int, int | None, int | None]] = []
    for start in range(0, len(chat_ids), CHUNK):
        result = session.execute(
            sa.delete(HELD)
            .where(HELD.c.chat_id.in_(chat_ids[start : start + CHUNK]))
            .returning(HELD.c.chat_id, HELD.c.entry_id, HELD.c.topic_id, HELD.c.thread_id)
        )
        pairs.extend((r[0], r[1], r[2], r[3]) for r in result)
    entries = _entries(session, {p[1] for p in pairs})
    labels = topic_labels(session=session, topic_ids={p[2] for p in pairs if p[2] is not None})
    found: dict[int, list[tuple[DigestItem, int | None]]] = {}
    # A story reported by several feeds is one line: its first report held for the chat.
    first_reports: dict[tuple[int, int], Entry] = {}
    for chat_id, entry_id, _, _ in pairs:
        entry = entries.get(entry_id)
        if entry is None or entry.story_id is None:
            continue
        key = (chat_id, entry.story_id)
        known = first_reports.get(key)
        if known is None or (_when(entry), entry.id or 0) < (_when(known), known.id or 0):
            first_reports[key] = entry
    for chat_id, entry_id, topic_id, thread_id in pairs:
        entry = entries.get(entry_id)
        if entry is None:
            continue
        if entry.story_id is not None and first_reports[(chat_id, entry.story_id)] is not entry:
            continue
        item = DigestItem(
            topic=labels.get(topic_id, "") if topic_id is not None else "",
            title=entry.title,
            link=entry.link,
            published=entry.published_at or entry.seen_at,
        )
        found.setdefault(chat_id, []).append((item, thread_id))
    taken: dict[int, Taken] = {}
    for chat_id, held in found.items():
        held.sort(key=lambda pair: pair[0].published, reverse=True)
        taken[chat_id] = Taken(items=[i for i, _ in held], thread_id=held[0][1])
    return taken


def _entries(session: Session, ids: set[int]) -> dict[int, Entry]:
    wanted = list(ids)
    found: dict[int, Entry] = {}
    for start in range(0, len(wanted), CHUNK):
        stmt = select(Entry).where(col(Entry.id).in_(wanted[start : start + CHUNK]))
        for entry in session.exec(stmt):
            if entry.id is not None:
                found[entry.id] = entry
    return found


def topic_labels(*, session: Session, topic_ids: Iterable[int]) -> dict[int, str]:
    """Return the name chats know each topic by: its catalog name, else its query."""
    ids = list(set(topic_ids))
    labels: dict[int, str] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(Topic.id, Topic.display, CatalogTopic.name)
            .join(
                CatalogTopic,
                sa.and_(
                    col(CatalogTopic.canonical) == col(Topic.canonical), col(CatalogTopic.active)
                ),
                isouter=True,
            )
            .where(col(Topic.id).in_(ids[start : start + CHUNK]))
        )
        for topic_id, display, name in session.exec(stmt):
            if topic_id is not None:
                labels[topic_id] = name or display
    return labels


def queue_digests(
    *, session: Session, digests: Sequence[tuple[int, int | None, str, str, int]], now: datetime
) -> int:
    """Store each (chat, thread, html, plain, stories) digest and queue one outbox row for it.

    The outbox row is due by the wall clock, as every alert is (see outbox.enqueue_entry);
    `now` is the release's clock, kept as the digest's time.
    """
    if not digests:
        return 0
    queued_at = utcnow()
    rows = [
        {"chat_id": c, "html": html, "plain": plain, "stories": n, "created_at": now}
        for c, _, html, plain, n in digests
    ]
    # One multi-row INSERT … RETURNING, ids in the order of the rows.
    ids = session.execute(
        sa.insert(DIGESTS).returning(DIGESTS.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    session.execute(
        sa.insert(DELIVERY),
        [
            {
                "chat_id": chat_id,
                "thread_id": thread_id,
                "digest_id": digest_id,
                "state": DeliveryState.QUEUED,
                "priority": Priority.ALERT,
                "attempts": 0,
                "next_attempt_at": queued_at,
                "created_at": queued_at,
            }
            for (chat_id, thread_id, *_), digest_id in zip(digests, ids, strict=True)
        ],
    )
    return len(digests)


def digest_texts(*, session: Session, digest_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Return (HTML, plain) of each digest."""
    ids = list(set(digest_ids))
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = select(Digest.id, Digest.html, Digest.plain).where(
            col(Digest.id).in_(ids[start : start + CHUNK])
        )
        for digest_id, html, plain in session.exec(stmt):
            if digest_id is not None:
                found[digest_id] = (html, plain)
    return found


def prune_digests(*, session: Session, before: datetime) -> int:
    """Delete digests older than `before` that are no longer waiting to be sent."""
    waiting = select(Delivery.digest_id).where(
        col(Delivery.digest_id).is_not(None),
        col(Delivery.state).in_((DeliveryState.QUEUED, DeliveryState.SENDING)),
    )
    result = session.execute(
        sa.delete(Digest).where(col(Digest.created_at) < before, col(Digest.id).not_in(waiting))
    )
    return _rowcount(result)
