"""The matching index of every distinct topic, kept current one change at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import topic_rows
from bot.db.engine import session_scope
from bot.topics import Document, QueryError, TopicIndex, parse_query

log = logging.getLogger(__name__)


class TopicCache:
    """The matching index of every distinct topic, kept current one change at a time.

    Built once from the topic table; after that it applies the `topic_change` rows written
    since (by this process or any other sharing the database), so a topic added or dropped
    costs one parse and one index update, not a rebuild.
    """

    def __init__(self) -> None:
        self._index = TopicIndex()
        # The newest change the index reflects; None until it is built.
        self._cursor: int | None = None
        self._lock = threading.Lock()
        # How many times the index was built from the whole topic table.
        self.builds = 0

    def refresh(self, engine: Engine) -> None:
        """Build the index if it isn't yet, outside any lock the watcher's writes take."""
        if self._cursor is not None:
            return
        with session_scope(engine) as session:
            index, cursor = _build_index(session)
        with self._lock:
            if self._cursor is None:
                self._index, self._cursor = index, cursor
                self.builds += 1

    def match_all(self, *, session: Session, docs: Sequence[Document]) -> list[set[int]]:
        """Bring the index up to date, then return the topics each document matches."""
        with self._lock:
            if self._cursor is None or not self._catch_up(session):
                self._index, self._cursor = _build_index(session)
                self.builds += 1
            return [self._index.match(doc) for doc in docs]

    def __len__(self) -> int:
        return len(self._index)

    def _catch_up(self, session: Session) -> bool:
        """Apply the changes since the cursor; False when some were pruned (rebuild)."""
        assert self._cursor is not None
        changes = topic_rows.changes_since(session=session, after=self._cursor)
        if not changes:
            return True
        oldest, _ = topic_rows.change_bounds(session=session)
        if oldest > self._cursor + 1:
            return False
        ids = list(dict.fromkeys(topic_id for _, topic_id in changes))
        displays = topic_rows.topics_by_ids(session=session, ids=ids)
        for topic_id in ids:
            display = displays.get(topic_id)
            if display is None:
                self._index.remove(topic_id)
            else:
                _index_topic(self._index, topic_id, display)
        self._cursor = changes[-1][0]
        return True


def _index_topic(index: TopicIndex, topic_id: int, display: str) -> None:
    try:
        index.add(topic_id, parse_query(display))
    except QueryError:
        index.remove(topic_id)
        log.warning("topic %d no longer parses; ignored", topic_id)


def _build_index(session: Session) -> tuple[TopicIndex, int]:
    """Index every stored topic; return the index and the newest change it reflects."""
    # The cursor is read first: a change committed while the topics are read is applied
    # again at the next catch-up, which is harmless.
    _, newest = topic_rows.change_bounds(session=session)
    index = TopicIndex()
    for topic_id, display in topic_rows.all_topic_displays(session=session):
        _index_topic(index, topic_id, display)
    return index, newest
