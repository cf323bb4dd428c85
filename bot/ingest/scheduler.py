"""Start each feed's poll when it is due: on time, and at once for a feed just added.

The loop sleeps until the earliest next poll it knows of (read from the database, or
reported as polls finish and feeds are added), but never longer than `IDLE_SECONDS`, so a
feed another process added or changed is noticed soon.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import utcnow

if TYPE_CHECKING:
    from bot.ingest.watcher import FeedWatcher

log = logging.getLogger(__name__)

# The longest sleep between looks at the database.
IDLE_SECONDS = 5.0
# After an error (the database away), wait this long before trying again.
ERROR_PAUSE_SECONDS = 5.0


class DueTimes:
    """Poll times learnt in this process, and a signal when one comes before the planned wake."""

    def __init__(self) -> None:
        self._heap: list[datetime] = []
        self._event = asyncio.Event()
        # When the loop will wake next; None while it is awake.
        self._planned: datetime | None = None

    def note(self, at: datetime) -> None:
        """Remember that some feed is due at `at`; wake the loop if that is sooner."""
        heapq.heappush(self._heap, at)
        if self._planned is None or at < self._planned:
            self._event.set()

    def awake(self, now: datetime) -> None:
        """Start a round: forget times that have come (the round launches them)."""
        self._planned = None
        self._event.clear()
        while self._heap and self._heap[0] <= now:
            heapq.heappop(self._heap)

    def soonest(self) -> datetime | None:
        """Return the earliest time noted and not yet come, if any."""
        return self._heap[0] if self._heap else None

    async def sleep_until(self, at: datetime) -> None:
        """Sleep until `at`, or until a sooner time is noted."""
        self._planned = at
        delay = (at - utcnow()).total_seconds()
        if delay <= 0 or self._event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), delay)


def next_poll_after(watcher: FeedWatcher, now: datetime) -> datetime | None:
    """Return the earliest next poll of an enabled feed after `now`, from the database."""
    with session_scope(watcher.engine) as session:
        return feeds_db.next_poll_after(session=session, now=now)


async def run_polls(
    watcher: FeedWatcher,
    *,
    on_round: Callable[[], None] = lambda: None,
    idle_seconds: float = IDLE_SECONDS,
) -> None:
    """Launch due polls at their time until cancelled; `on_round` is called each round."""
    due = watcher.due_times
    while True:
        try:
            # One instant for the whole round: a feed falling due while the round runs is
            # launched by it or found by the look ahead, never skipped until the idle wake.
            now = utcnow()
            due.awake(now)
            await watcher.launch_due()
            on_round()
            stored = await asyncio.to_thread(next_poll_after, watcher, now)
        except Exception:
            log.exception("looking for due feeds failed; trying again shortly")
            await asyncio.sleep(ERROR_PAUSE_SECONDS)
            continue
        wake = now.timestamp() + idle_seconds
        for at in (stored, due.soonest()):
            if at is not None:
                wake = min(wake, at.timestamp())
        await due.sleep_until(datetime.fromtimestamp(wake, tz=now.tzinfo))
