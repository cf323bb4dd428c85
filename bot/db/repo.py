"""Data-access functions: one unit of work each, keyword-only arguments, no Telegram."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db.models import Broadcast, Chat, Delivery, Entry, Feed, Subscription, Topic, utcnow

MAX_TOPICS_PER_CHAT = 50


class TopicLimitError(Exception):
    """The chat already has the maximum number of topics."""


# --- chats -----------------------------------------------------------------------------


def register_chat(*, session: Session, chat_id: int, chat_type: str, title: str | None) -> Chat:
    """Create the chat or bring it back to active, keeping its subscriptions."""
    chat = session.get(Chat, chat_id)
    now = utcnow()
    if chat is None:
        chat = Chat(id=chat_id, type=chat_type, title=title, active=True)
    else:
        chat.active = True
        chat.type = chat_type
        chat.title = title
        chat.updated_at = now
    session.add(chat)
    session.flush()
    return chat


def ensure_chat(*, session: Session, chat_id: int, chat_type: str, title: str | None) -> Chat:
    """Return the chat, creating it (active) when it is new; an inactive chat stays inactive."""
    chat = session.get(Chat, chat_id)
    if chat is None:
        return register_chat(session=session, chat_id=chat_id, chat_type=chat_type, title=title)
    return chat


def deactivate_chat(*, session: Session, chat_id: int, reason: str) -> int:
    """Mark the chat inactive and cancel its queued messages; return how many were cancelled."""
    chat = session.get(Chat, chat_id)
    if chat is not None:
        chat.active = False
        chat.updated_at = utcnow()
        session.add(chat)
    result = session.execute(
        sa.update(Delivery)
        .where(col(Delivery.chat_id) == chat_id, col(Delivery.state).in_(("queued", "sending")))
        .values(state="cancelled", last_error=reason[:500])
    )
    return int(getattr(result, "rowcount", 0) or 0)


def active_chat_ids(*, session: Session) -> list[int]:
    """Return the ids of every chat that should receive broadcasts."""
    return list(session.exec(select(Chat.id).where(col(Chat.active)).order_by(col(Chat.id))))


# --- topics and subscriptions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscribeOutcome:
    topic: Topic
    created: bool


def subscribe(
    *,
    session: Session,
    chat_id: int,
    canonical: str,
    display: str,
    thread_id: int | None = None,
) -> SubscribeOutcome:
    """Subscribe the chat to the topic (shared by canonical form); idempotent."""
    topic = session.exec(select(Topic).where(Topic.canonical == canonical)).first()
    if topic is None:
        topic = Topic(canonical=canonical, display=display)
        session.add(topic)
        session.flush()
    assert topic.id is not None
    existing = session.get(Subscription, (chat_id, topic.id))
    if existing is not None:
        if existing.thread_id != thread_id:
            existing.thread_id = thread_id
            session.add(existing)
        return SubscribeOutcome(topic=topic, created=False)
    count = session.exec(
        select(sa.func.count()).select_from(Subscription).where(Subscription.chat_id == chat_id)
    ).one()
    if count >= MAX_TOPICS_PER_CHAT:
        raise TopicLimitError(f"at most {MAX_TOPICS_PER_CHAT} topics per chat")
    session.add(Subscription(chat_id=chat_id, topic_id=topic.id, thread_id=thread_id))
    session.flush()
    return SubscribeOutcome(topic=topic, created=True)


def unsubscribe(*, session: Session, chat_id: int, canonical: str) -> Topic | None:
    """Remove the chat's subscription; return the topic, or None when it wasn't subscribed."""
    topic = session.exec(select(Topic).where(Topic.canonical == canonical)).first()
    if topic is None or topic.id is None:
        return None
    sub = session.get(Subscription, (chat_id, topic.id))
    if sub is None:
        return None
    session.delete(sub)
    session.flush()
    _drop_orphan_topic(session=session, topic=topic)
    return topic


def _drop_orphan_topic(*, session: Session, topic: Topic) -> None:
    remaining = session.exec(
        select(sa.func.count()).select_from(Subscription).where(Subscription.topic_id == topic.id)
    ).one()
    if remaining == 0:
        session.delete(topic)
        session.flush()


def chat_topics(*, session: Session, chat_id: int) -> list[Topic]:
    """Return the chat's topics in the order they were added."""
    stmt = (
        select(Topic)
        .join(Subscription, col(Subscription.topic_id) == col(Topic.id))
        .where(Subscription.chat_id == chat_id)
        .order_by(col(Subscription.created_at), col(Topic.id))
    )
    return list(session.exec(stmt))


def all_topics(*, session: Session) -> list[Topic]:
    """Return every topic that has at least one subscriber."""
    return list(session.exec(select(Topic).order_by(col(Topic.id))))


def topics_version(*, session: Session) -> tuple[int, int]:
    """Return a cheap fingerprint of the topic table (count, newest id)."""
    stmt = sa.select(sa.func.count(col(Topic.id)), sa.func.max(col(Topic.id)))
    row = session.execute(stmt).one()
    return int(row[0] or 0), int(row[1] or 0)


# --- feeds and entries -------------------------------------------------------------------


def add_feeds(*, session: Session, urls: Iterable[str]) -> list[Feed]:
    """Store feeds that aren't stored yet; return the new ones."""
    added = []
    for url in dict.fromkeys(urls):
        if session.exec(select(Feed).where(Feed.url == url)).first() is None:
            feed = Feed(url=url)
            session.add(feed)
            added.append(feed)
    session.flush()
    return added


def due_feeds(*, session: Session, now: datetime, limit: int = 1000) -> list[Feed]:
    """Return enabled feeds whose next poll time has come, the most overdue first."""
    stmt = (
        select(Feed)
        .where(
            col(Feed.enabled),
            sa.or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= now),
        )
        .order_by(col(Feed.next_poll_at).is_not(None), col(Feed.next_poll_at), col(Feed.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def known_keys(*, session: Session, feed_id: int, keys: Sequence[str]) -> set[str]:
    """Return which of `keys` are already stored for the feed."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.exec(
                select(Entry.key).where(Entry.feed_id == feed_id, col(Entry.key).in_(chunk))
            )
        )
    return found


def known_link_keys(*, session: Session, link_keys: Sequence[str]) -> set[str]:
    """Return which canonical links are already stored from any feed."""
    found: set[str] = set()
    for start in range(0, len(link_keys), 500):
        chunk = link_keys[start : start + 500]
        found.update(
            k
            for k in session.exec(select(Entry.link_key).where(col(Entry.link_key).in_(chunk)))
            if k is not None
        )
    return found


def latest_entries(*, session: Session, limit: int) -> list[Entry]:
    """Return the newest stored entries, newest first."""
    stmt = select(Entry).order_by(col(Entry.seen_at).desc(), col(Entry.id).desc()).limit(limit)
    return list(session.exec(stmt))


def feed_titles(*, session: Session, feed_ids: Iterable[int]) -> dict[int, str]:
    """Return a display name for each feed id (its title, else its host)."""
    ids = list(set(feed_ids))
    if not ids:
        return {}
    rows = session.exec(select(Feed).where(col(Feed.id).in_(ids)))
    return {f.id: feed_display_name(f) for f in rows if f.id is not None}


def feed_display_name(feed: Feed) -> str:
    """Return the feed's title, or its host when it has none."""
    if feed.title:
        return feed.title
    host = feed.url.split("://", 1)[-1].split("/", 1)[0]
    return host


def subscribers_for_topics(*, session: Session, topic_ids: Iterable[int]) -> dict[int, int | None]:
    """Return {chat_id: thread_id} of active chats subscribed to any of the topics."""
    ids = list(set(topic_ids))
    chats: dict[int, int | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = (
            select(Subscription.chat_id, Subscription.thread_id)
            .join(Chat, col(Chat.id) == col(Subscription.chat_id))
            .where(col(Subscription.topic_id).in_(chunk), col(Chat.active))
        )
        for chat_id, thread_id in session.exec(stmt):
            chats.setdefault(chat_id, thread_id)
    return chats


def enqueue_entry(*, session: Session, entry_id: int, chats: dict[int, int | None]) -> int:
    """Queue one alert per chat for the entry, skipping chats that already have it."""
    if not chats:
        return 0
    already = set(
        session.exec(
            select(Delivery.chat_id).where(
                Delivery.entry_id == entry_id, col(Delivery.chat_id).in_(list(chats))
            )
        )
    )
    now = utcnow()
    rows = [
        Delivery(chat_id=c, thread_id=t, entry_id=entry_id, next_attempt_at=now, created_at=now)
        for c, t in chats.items()
        if c not in already
    ]
    session.add_all(rows)
    return len(rows)


def chats_with_link(*, session: Session, link_key: str) -> set[int]:
    """Return chats that already have an alert queued or sent for a story with this link."""
    stmt = (
        select(Delivery.chat_id)
        .join(Entry, col(Entry.id) == col(Delivery.entry_id))
        .where(Entry.link_key == link_key)
    )
    return set(session.exec(stmt))


def prune_entries(*, session: Session, older_than: datetime) -> int:
    """Delete entries seen before `older_than` and their finished deliveries."""
    result = session.execute(sa.delete(Entry).where(col(Entry.seen_at) < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


# --- broadcasts ---------------------------------------------------------------------------


def create_broadcast(*, session: Session, admin_user_id: int, admin_chat_id: int, text: str) -> int:
    """Store a draft broadcast and return its id."""
    bc = Broadcast(admin_user_id=admin_user_id, admin_chat_id=admin_chat_id, text=text)
    session.add(bc)
    session.flush()
    assert bc.id is not None
    return bc.id


def set_broadcast_message(*, session: Session, broadcast_id: int, message_id: int) -> None:
    """Remember the preview message, so progress can be shown there."""
    bc = session.get(Broadcast, broadcast_id)
    if bc is not None:
        bc.admin_message_id = message_id
        session.add(bc)


def confirm_broadcast(*, session: Session, broadcast_id: int) -> Broadcast | None:
    """Queue the draft for every active chat; None when it is not a draft any more."""
    bc = session.get(Broadcast, broadcast_id, with_for_update=True)
    if bc is None or bc.state != "draft":
        return None
    chat_ids = active_chat_ids(session=session)
    now = utcnow()
    session.add_all(
        Delivery(chat_id=c, broadcast_id=broadcast_id, next_attempt_at=now, created_at=now)
        for c in chat_ids
    )
    bc.state = "sending"
    bc.total = len(chat_ids)
    bc.confirmed_at = now
    session.add(bc)
    session.flush()
    return bc


def cancel_broadcast(*, session: Session, broadcast_id: int) -> Broadcast | None:
    """Cancel a draft; None when it is not a draft any more."""
    bc = session.get(Broadcast, broadcast_id, with_for_update=True)
    if bc is None or bc.state != "draft":
        return None
    bc.state = "cancelled"
    bc.finished_at = utcnow()
    session.add(bc)
    return bc


@dataclass(frozen=True, slots=True)
class BroadcastTally:
    broadcast: Broadcast
    sent: int
    failed: int
    pending: int


def broadcast_tally(*, session: Session, broadcast_id: int) -> BroadcastTally | None:
    """Count the broadcast's deliveries by outcome."""
    bc = session.get(Broadcast, broadcast_id)
    if bc is None:
        return None
    stmt = (
        sa.select(col(Delivery.state), sa.func.count())
        .where(col(Delivery.broadcast_id) == broadcast_id)
        .group_by(col(Delivery.state))
    )
    counts: dict[str, int] = {state: int(n) for state, n in session.execute(stmt).all()}
    pending = counts.get("queued", 0) + counts.get("sending", 0)
    failed = counts.get("failed", 0) + counts.get("cancelled", 0)
    return BroadcastTally(broadcast=bc, sent=counts.get("sent", 0), failed=failed, pending=pending)


def finish_broadcasts(*, session: Session) -> list[BroadcastTally]:
    """Mark sending broadcasts with nothing left to send as done and return their tallies."""
    finished = []
    for bc in session.exec(select(Broadcast).where(Broadcast.state == "sending")):
        assert bc.id is not None
        tally = broadcast_tally(session=session, broadcast_id=bc.id)
        if tally is not None and tally.pending == 0:
            bc.state = "done"
            bc.finished_at = utcnow()
            session.add(bc)
            finished.append(tally)
    return finished


# --- outbox -------------------------------------------------------------------------------


def claim_due(
    *,
    session: Session,
    now: datetime,
    limit: int,
    skip_chats: Iterable[int] = (),
    one_per_chat: bool = False,
) -> list[Delivery]:
    """Mark up to `limit` due rows as sending and return them; alerts before broadcasts.

    With `one_per_chat`, a chat gets at most one row per claim, so a chat with a long
    backlog takes its turn without holding up the others.
    """
    stmt = (
        select(Delivery)
        .where(Delivery.state == "queued", col(Delivery.next_attempt_at) <= now)
        .order_by(col(Delivery.broadcast_id).is_not(None), col(Delivery.id))
        .limit(limit * 4 if one_per_chat else limit)
    )
    skip = list(skip_chats)
    if skip:
        stmt = stmt.where(col(Delivery.chat_id).not_in(skip))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = []
    seen: set[int] = set()
    for row in session.exec(stmt):
        if one_per_chat and row.chat_id in seen:
            continue
        seen.add(row.chat_id)
        rows.append(row)
        if len(rows) >= limit:
            break
    for row in rows:
        row.state = "sending"
        row.attempts += 1
        session.add(row)
    session.flush()
    return rows


def requeue_in_flight(*, session: Session) -> int:
    """At start, put rows left 'sending' by a crashed process back in the queue."""
    result = session.execute(
        sa.update(Delivery).where(col(Delivery.state) == "sending").values(state="queued")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def next_due_at(*, session: Session) -> datetime | None:
    """Return when the next queued row becomes due."""
    return session.exec(
        select(sa.func.min(Delivery.next_attempt_at)).where(Delivery.state == "queued")
    ).one()


def mark_sent(*, session: Session, delivery_id: int, when: datetime) -> None:
    """Record a delivered message."""
    session.execute(
        sa.update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(state="sent", sent_at=when, last_error=None)
    )


def mark_retry(
    *, session: Session, delivery_id: int, at: datetime, error: str, count_attempt: bool = True
) -> None:
    """Put a row back in the queue to be tried again at `at`."""
    values: dict[str, object] = {
        "state": "queued",
        "next_attempt_at": at,
        "last_error": error[:500],
    }
    if not count_attempt:
        values["attempts"] = col(Delivery.attempts) - 1
    session.execute(sa.update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))


def mark_unknown(*, session: Session, delivery_id: int, error: str) -> None:
    """Close a row whose send may or may not have reached Telegram."""
    session.execute(
        sa.update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(state="unknown", last_error=error[:500])
    )


def migrate_chat(*, session: Session, old_id: int, new_id: int) -> None:
    """Move a chat that became a supergroup: its subscriptions and queued messages follow."""
    old = session.get(Chat, old_id)
    new = session.get(Chat, new_id)
    if new is None:
        new = Chat(
            id=new_id,
            type="supergroup",
            title=old.title if old else None,
            active=True,
        )
        session.add(new)
        session.flush()
    else:
        new.active = True
        session.add(new)
    have = set(session.exec(select(Subscription.topic_id).where(Subscription.chat_id == new_id)))
    for sub in list(session.exec(select(Subscription).where(Subscription.chat_id == old_id))):
        if sub.topic_id not in have:
            session.add(
                Subscription(chat_id=new_id, topic_id=sub.topic_id, thread_id=sub.thread_id)
            )
        session.delete(sub)
    session.flush()
    # Requeue in-flight and queued rows at the new id, unless the new chat already has them.
    for row in list(
        session.exec(
            select(Delivery).where(
                Delivery.chat_id == old_id, col(Delivery.state).in_(("queued", "sending"))
            )
        )
    ):
        dup = session.exec(
            select(Delivery.id).where(
                Delivery.chat_id == new_id,
                Delivery.entry_id == row.entry_id if row.entry_id is not None else sa.false(),
            )
        ).first()
        if dup is not None:
            row.state = "cancelled"
            row.last_error = f"chat migrated to {new_id}"
        else:
            row.chat_id = new_id
            row.state = "queued"
            row.next_attempt_at = utcnow()
        session.add(row)
    if old is not None:
        old.active = False
        session.add(old)


def mark_failed(*, session: Session, delivery_id: int, error: str) -> None:
    """Give up on a row, keeping the reason."""
    session.execute(
        sa.update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(state="failed", last_error=error[:500])
    )


def deliveries_payload(
    *, session: Session, rows: Sequence[Delivery]
) -> tuple[dict[int, Entry], dict[int, Broadcast], dict[int, str]]:
    """Load the entries, broadcasts and feed names the claimed rows need."""
    entry_ids = {r.entry_id for r in rows if r.entry_id is not None}
    bc_ids = {r.broadcast_id for r in rows if r.broadcast_id is not None}
    entries = (
        {e.id: e for e in session.exec(select(Entry).where(col(Entry.id).in_(entry_ids)))}
        if entry_ids
        else {}
    )
    broadcasts = (
        {b.id: b for b in session.exec(select(Broadcast).where(col(Broadcast.id).in_(bc_ids)))}
        if bc_ids
        else {}
    )
    names = feed_titles(session=session, feed_ids=(e.feed_id for e in entries.values()))
    return (
        {k: v for k, v in entries.items() if k is not None},
        {k: v for k, v in broadcasts.items() if k is not None},
        names,
    )


def retention_cutoff(*, now: datetime, days: int) -> datetime:
    """Return the time before which entries are pruned."""
    return now - timedelta(days=days)
