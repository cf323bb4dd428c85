"""The topic catalog: reading topic names, operators editing the list, applying TOPICS_FILE."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session

from bot.config import Settings, SettingsError
from bot.db import catalog as catalog_db
from bot.db.models import CatalogTopic
from bot.services.base import Service
from bot.topics import Query, parse_query
from bot.topics.catalog import (
    MAX_CATALOG_TOPICS,
    CatalogEntry,
    CatalogError,
    CatalogPlan,
    load_catalog_file,
    name_key,
    plan_catalog,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A named topic of the catalog, as chats see it."""

    id: int
    key: str  # the case-folded name
    name: str
    query: str  # as the operator wrote it
    canonical: str


@dataclass(frozen=True, slots=True)
class TopicChoice:
    """What a chat asked for: a catalog topic (by name or by its query) or its own query."""

    query: Query
    name: str | None

    @property
    def label(self) -> str:
        """Return the name the chat sees."""
        return self.name or self.query.display


@dataclass(frozen=True, slots=True)
class CatalogSaved:
    name: str
    query: str
    created: bool
    moved: int  # chats moved from the topic's former query to the new one


def item_of(row: CatalogTopic) -> CatalogItem:
    """Return a stored catalog topic as chats see it."""
    assert row.id is not None
    return CatalogItem(
        id=row.id, key=row.key, name=row.name, query=row.query, canonical=row.canonical
    )


def read_catalog(session: Session) -> list[CatalogItem]:
    """Return the catalog in the order it is shown (inside the caller's transaction)."""
    return [item_of(row) for row in catalog_db.catalog_topics(session=session)]


def choose_topic(raw: str, catalog: Sequence[CatalogItem]) -> TopicChoice:
    """Return the catalog topic named raw (any case), else raw parsed as a query.

    Raise QueryError with a message for the user when raw is neither.
    """
    key = name_key(raw)
    for item in catalog:
        if item.key == key:
            return TopicChoice(query=parse_query(item.query), name=item.name)
    query = parse_query(raw)
    name = next((item.name for item in catalog if item.canonical == query.canonical), None)
    return TopicChoice(query=query, name=name)


def catalog_plan(settings: Settings) -> CatalogPlan:
    """Read TOPICS_FILE (if set) into the catalog to apply; raise SettingsError if unusable."""
    path = settings.topics_file
    try:
        source = None if path is None else load_catalog_file(path)
    except CatalogError as err:
        raise SettingsError(f"TOPICS_FILE {err}") from None
    try:
        return plan_catalog(source)
    except CatalogError as err:
        raise SettingsError(f"TOPICS_FILE {path}: {err}") from None


class Catalog(Service):
    async def items(self) -> list[CatalogItem]:
        """Return the catalog in the order it is shown."""
        return await self._run(read_catalog)

    async def add(self, entry: CatalogEntry) -> CatalogSaved:
        """Add a named topic, or give the one of that name a new query (its chats follow).

        Raise CatalogError, with a message for the operator, when it can't be done.
        """

        def work(s: Session) -> CatalogSaved:
            current = {row.key: row for row in catalog_db.catalog_topics(session=s)}
            if entry.key not in current and len(current) >= MAX_CATALOG_TOPICS:
                raise CatalogError(
                    f"The list already holds {MAX_CATALOG_TOPICS} topics, the most I show as "
                    "buttons. Remove one first."
                )
            # A new query keeps the name as first spelled; remove and add again to rename.
            row = current.get(entry.key)
            named = replace(entry, name=row.name) if row is not None else entry
            saved = catalog_db.save_catalog_topic(session=s, entry=named)
            return CatalogSaved(
                name=saved.topic.name,
                query=entry.query.display,
                created=saved.created,
                moved=saved.moved,
            )

        return await self._run(work)

    async def remove(self, name: str) -> CatalogItem | None:
        """Take a named topic out of the catalog (chats keep its query); None if not there."""

        def work(s: Session) -> CatalogItem | None:
            row = catalog_db.remove_catalog_topic(session=s, name=name)
            return None if row is None else item_of(row)

        return await self._run(work)

    async def apply(self, plan: CatalogPlan) -> catalog_db.CatalogSync:
        """Store the catalog of the start-up plan."""
        report = await self._run(
            lambda s: catalog_db.sync_catalog(session=s, entries=plan.entries, replace=plan.replace)
        )
        if report.added or report.updated or report.removed:
            log.info(
                "topic catalog: %d added, %d updated, %d removed",
                report.added,
                report.updated,
                report.removed,
            )
        return report
