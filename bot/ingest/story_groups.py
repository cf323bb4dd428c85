"""The watcher's open stories: the grouping engine, rebuilt from storage and kept in step.

Each stored entry is placed with exactly the engine `newsbot cluster` runs
(bot/stories/engine.py), inside the transaction that stores it. At start (and after a failed
transaction) the engine is rebuilt from the stories of the last window, so a restart keeps
grouping; before each batch it reads the entries other processes placed since. Memory is
bounded by the window: the engine forgets stories quiet for longer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.db import stories as stories_db
from bot.db.models import Entry
from bot.stories.engine import Clusterer, Params, Report

log = logging.getLogger(__name__)


class StoryGroups:
    """Place new entries into stories; not thread-safe (stores hold the write lock)."""

    def __init__(
        self,
        *,
        window: timedelta = timedelta(hours=24),
        edit_interval: timedelta = timedelta(minutes=10),
        params: Params | None = None,
    ) -> None:
        self.window = window
        self.edit_interval = edit_interval
        self.params = params
        self._engine: Clusterer | None = None
        self._after_id = 0  # entries up to this id are in the engine (or not in a story)

    def reset(self) -> None:
        """Forget the open stories; the next batch rebuilds them from storage."""
        self._engine = None

    def catch_up(self, *, session: Session, now: datetime) -> Clusterer:
        """Rebuild the open stories from storage, or read those other processes placed since."""
        engine = self._engine
        fresh = engine is None
        if engine is None:
            engine = Clusterer(window=self.window, params=self.params)
        stored = stories_db.open_reports(
            session=session, since=now - self.window, after_id=0 if fresh else self._after_id
        )
        for r in stored:
            report = Report(
                id=r.entry_id,
                title=r.title,
                published=min(r.at, now),
                source=r.source,
                summary=r.summary,
            )
            engine.load(report, r.story_id)
            self._after_id = max(self._after_id, r.entry_id)
        if fresh:
            log.info("stories: %d open, from %d stored reports", len(engine.stories), len(stored))
        self._engine = engine
        return engine

    def place(
        self, *, session: Session, entries: Sequence[Entry], now: datetime
    ) -> list[tuple[Entry, int, datetime]]:
        """Put each stored entry (ids given) into a story and record it; return the placings."""
        if not entries:
            return []
        try:
            engine = self.catch_up(session=session, now=now)
            placed: list[tuple[Entry, int, datetime]] = []
            ordered = sorted(entries, key=lambda e: (min(_at(e), now), e.id or 0))
            for entry in ordered:
                assert entry.id is not None
                at = min(_at(entry), now)
                report = Report(
                    id=entry.id,
                    title=entry.title,
                    published=at,
                    source=f"feed {entry.feed_id}",
                    summary=stories_db.report_text(entry),
                )
                story_id = engine.assign(report)
                assert isinstance(story_id, int)
                placed.append((entry, story_id, at))
                self._after_id = max(self._after_id, entry.id)
            stories_db.place_entries(session=session, placed=placed)
        except Exception:
            # The transaction rolls back: the engine must not keep what storage won't.
            self.reset()
            raise
        return placed


def _at(entry: Entry) -> datetime:
    return entry.published_at or entry.seen_at
