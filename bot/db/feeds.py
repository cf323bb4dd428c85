"""Feed rows: adding, scheduling, health and listing. Keyword-only arguments."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.db import upsert
from bot.db.models import Entry, Feed, UTCDateTime
from bot.feeds.identity import feed_name

_CHUNK = 500


def add_feeds(*, session: Session, urls: Iterable[str], now: datetime | None = None) -> list[Feed]:
    """Store feeds that aren't stored yet, due at once (at `now`); return the new ones.

    A feed another process stores at the same moment counts as already stored.
    """
    added: list[int] = []
    for url in dict.fromkeys(urls):
        feed_id = session.execute(
            upsert.insert(session, Feed)
            .values(url=url, next_poll_at=now)
            .on_conflict_do_nothing(index_elements=["url"])
            .returning(col(Feed.id))
        ).scalar_one_or_none()
        if feed_id is not None:
            added.append(int(feed_id))
    return feeds_by_ids(session=session, ids=added)


def feed_by_url(*, session: Session, url: str) -> Feed | None:
    """Return the feed stored under exactly this URL."""
    return session.exec(select(Feed).where(Feed.url == url)).first()


def feed_number(*, session: Session, feed_id: int) -> int:
    """Return the feed's position in `all_feeds` (1-based)."""
    stmt = select(sa.func.count()).select_from(Feed).where(col(Feed.id) <= feed_id)
    return int(session.exec(stmt).one())


def feed_names(*, session: Session, feed_ids: Iterable[int]) -> dict[int, str]:
    """Return the display name of each feed id (bot/feeds/identity.py, feed_name)."""
    ids = list(set(feed_ids))
    if not ids:
        return {}
    rows = session.exec(select(Feed).where(col(Feed.id).in_(ids)))
    return {f.id: feed_name(title=f.title, url=f.url) for f in rows if f.id is not None}


def all_feeds(*, session: Session) -> list[Feed]:
    """Return every feed in the order they were added (the numbering /feeds shows)."""
    return list(session.exec(select(Feed).order_by(col(Feed.id))))


def entry_counts(*, session: Session) -> dict[int, int]:
    """Return the number of stored entries per feed id."""
    stmt = sa.select(col(Entry.feed_id), sa.func.count()).group_by(col(Entry.feed_id))
    return {int(feed_id): int(n) for feed_id, n in session.execute(stmt).all()}


def due_feed_ids(*, session: Session, now: datetime) -> list[int]:
    """Return the ids of enabled feeds whose next poll time has come, most overdue first."""
    stmt = (
        select(Feed.id)
        .where(
            col(Feed.enabled),
            sa.or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= now),
        )
        .order_by(col(Feed.next_poll_at).is_not(None), col(Feed.next_poll_at), col(Feed.id))
    )
    return [i for i in session.exec(stmt) if i is not None]


def next_poll_after(*, session: Session, now: datetime) -> datetime | None:
    """Return the earliest next poll of an enabled feed that is still to come."""
    stmt = select(sa.func.min(Feed.next_poll_at)).where(
        col(Feed.enabled), col(Feed.next_poll_at) > now
    )
    return session.exec(stmt).one()


def feeds_by_ids(*, session: Session, ids: Sequence[int]) -> list[Feed]:
    """Return the feeds with these ids, in the order given."""
    found: dict[int, Feed] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        for feed in session.exec(select(Feed).where(col(Feed.id).in_(chunk))):
            assert feed.id is not None
            found[feed.id] = feed
    return [found[i] for i in ids if i in found]


@dataclass(frozen=True, slots=True)
class PollSuccess:
    """What a successful poll learned about a feed."""

    polled_at: datetime
    next_poll_at: datetime
    etag: str | None
    last_modified: str | None
    parsed: bool  # False for a 304
    title: str | None = None


def record_success(*, session: Session, feed_id: int, success: PollSuccess) -> bool:
    """Store a successful poll and reset the error count; False when the feed is gone."""
    row = session.get(Feed, feed_id)
    if row is None:
        return False
    if success.parsed:
        # A full answer without validators means the server stopped sending them.
        row.etag = success.etag
        row.last_modified = success.last_modified
        row.seeded = True
        row.last_parsed_at = success.polled_at
        if success.title:
            row.title = success.title[:300]
    else:
        row.etag = success.etag or row.etag
        row.last_modified = success.last_modified or row.last_modified
    row.error_count = 0
    row.last_error = None
    row.last_success_at = success.polled_at
    row.last_polled_at = success.polled_at
    row.next_poll_at = success.next_poll_at
    session.add(row)
    return True


def record_not_modified(*, session: Session, polls: Sequence[tuple[int, PollSuccess]]) -> None:
    """Store many 304 answers at once: validators kept, errors reset, next poll set."""
    if not polls:
        return
    table = Feed.metadata.tables["feed"]
    stmt = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"))
        .values(
            etag=sa.func.coalesce(sa.bindparam("b_etag", type_=sa.String()), table.c.etag),
            last_modified=sa.func.coalesce(
                sa.bindparam("b_last_modified", type_=sa.String()), table.c.last_modified
            ),
            error_count=0,
            last_error=None,
            last_success_at=sa.bindparam("b_polled_at", type_=UTCDateTime()),
            last_polled_at=sa.bindparam("b_polled_at", type_=UTCDateTime()),
            next_poll_at=sa.bindparam("b_next_poll_at", type_=UTCDateTime()),
        )
    )
    session.connection().execute(
        stmt,
        [
            {
                "b_id": feed_id,
                "b_etag": poll.etag,
                "b_last_modified": poll.last_modified,
                "b_polled_at": poll.polled_at,
                "b_next_poll_at": poll.next_poll_at,
            }
            for feed_id, poll in polls
        ],
    )


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A feed's state after a failed poll."""

    url: str
    title: str | None
    error_count: int
    previous_error: str | None
    next_poll_at: datetime
    disabled: bool


def record_failure(
    *,
    session: Session,
    feed_id: int,
    error: str,
    now: datetime,
    delay_for: Callable[[int], float],
    disable_after: int,
) -> FailureRecord | None:
    """Count a failure, schedule the retry (`delay_for(error_count)` seconds away) and
    disable the feed once it has failed `disable_after` times in a row."""
    row = session.get(Feed, feed_id)
    if row is None:
        return None
    previous = row.last_error
    row.error_count += 1
    row.last_error = error[:500]
    row.last_polled_at = now
    row.next_poll_at = now + timedelta(seconds=delay_for(row.error_count))
    newly_disabled = row.enabled and row.error_count >= disable_after
    if newly_disabled:
        row.enabled = False
    session.add(row)
    return FailureRecord(
        url=row.url,
        title=row.title,
        error_count=row.error_count,
        previous_error=previous,
        next_poll_at=row.next_poll_at,
        disabled=newly_disabled,
    )


def enable_feed(*, session: Session, feed_id: int, now: datetime) -> Feed | None:
    """Turn a disabled feed back on, with a clean error count, due now."""
    row = session.get(Feed, feed_id)
    if row is None:
        return None
    row.enabled = True
    row.error_count = 0
    row.last_error = None
    row.next_poll_at = now
    session.add(row)
    return row


def create_feed(
    *, session: Session, url: str, title: str | None, next_poll_at: datetime
) -> Feed | None:
    """Store a new feed (not seeded yet) and return it with its id; None if it is stored."""
    feed_id = session.execute(
        upsert.insert(session, Feed)
        .values(url=url, title=title[:300] if title else None, next_poll_at=next_poll_at)
        .on_conflict_do_nothing(index_elements=["url"])
        .returning(col(Feed.id))
    ).scalar_one_or_none()
    return None if feed_id is None else session.get(Feed, feed_id)


def delete_feed(*, session: Session, feed_id: int) -> int:
    """Delete the feed with its entries and their alerts; return how many entries went."""
    entries = session.exec(
        select(sa.func.count()).select_from(Entry).where(Entry.feed_id == feed_id)
    ).one()
    # ON DELETE CASCADE takes the entries and their outbox rows along.
    session.execute(sa.delete(Feed).where(col(Feed.id) == feed_id))
    return int(entries)


def reset_feed(*, session: Session, url: str) -> Feed:
    """Store the feed afresh, due now: its old stories (and their outbox rows) are deleted."""
    session.execute(sa.delete(Feed).where(col(Feed.url) == url))
    feed = Feed(url=url)
    session.add(feed)
    session.flush()
    return feed


def set_feed_enabled(*, session: Session, url: str, enabled: bool) -> None:
    """Enable or disable a feed by URL."""
    session.execute(sa.update(Feed).where(col(Feed.url) == url).values(enabled=enabled))
