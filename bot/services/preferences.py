"""A chat's delivery preferences (/settings and its commands) and releasing due digests."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.db import chats as chats_db
from bot.db import preferences as prefs_db
from bot.db.models import utcnow
from bot.digests.items import DigestItem
from bot.digests.times import Preferences
from bot.i18n import Translator, negotiate, translator
from bot.services.base import ChatInfo, Service
from bot.services.chats import remember

log = logging.getLogger(__name__)

# Renders a chat's held stories as one message, (HTML, plain text), with the words around
# the stories in the translator's language.
DigestRenderer = Callable[[Sequence[DigestItem], Translator], tuple[str, str]]
# Chats released per transaction: a crash loses none (the claim and the outbox row commit
# together) and 10,000 chats due at one time take a few dozen transactions.
RELEASE_BATCH = 200
DIGEST_RETENTION = timedelta(days=7)


class ChatSettings(Service):
    """Read and change one chat's preferences; each change is one transaction."""

    async def get(self, chat_id: int) -> Preferences:
        """Return the chat's preferences (the defaults when it never changed any)."""
        return await self._run(lambda s: prefs_db.load(session=s, chat_id=chat_id))

    async def change(
        self,
        chat: ChatInfo,
        edit: Callable[[Preferences], Preferences],
        *,
        now: datetime | None = None,
    ) -> Preferences:
        """Apply `edit` to the chat's preferences, store them and reschedule its digest."""

        def work(session: Session) -> Preferences:
            remember(session, chat)
            current = prefs_db.load(session=session, chat_id=chat.id)
            changed = edit(current)
            prefs_db.save(session=session, chat_id=chat.id, prefs=changed, now=now or utcnow())
            return changed

        return await self._run(work)


@dataclass(frozen=True, slots=True)
class ReleaseReport:
    digests: int = 0  # digests queued
    stories: int = 0  # stories they carry
    empty: int = 0  # due digests with no stories (nothing sent)


class Digests(Service):
    """Release the digests that are due: one outbox row per chat, sent like any alert."""

    async def release_due(
        self, render: DigestRenderer, *, now: datetime | None = None
    ) -> ReleaseReport:
        """Queue every digest due at `now` (default: the clock) and move each chat on."""
        return await self._run_release(render, now or utcnow())

    async def _run_release(self, render: DigestRenderer, now: datetime) -> ReleaseReport:
        total = ReleaseReport()
        while True:
            report, more = await self._run(lambda s: release_batch(s, render, now))
            total = ReleaseReport(
                digests=total.digests + report.digests,
                stories=total.stories + report.stories,
                empty=total.empty + report.empty,
            )
            if not more:
                return total

    async def prune(self, *, now: datetime | None = None) -> int:
        """Delete sent digests older than a week (their outbox rows go with them)."""
        before = (now or utcnow()) - DIGEST_RETENTION
        return await self._run(lambda s: prefs_db.prune_digests(session=s, before=before))


def release_batch(
    session: Session, render: DigestRenderer, now: datetime, limit: int = RELEASE_BATCH
) -> tuple[ReleaseReport, bool]:
    """Release up to `limit` due digests in the caller's transaction; say whether more are due."""
    due = prefs_db.due_chats(session=session, now=now, limit=limit)
    claimed = prefs_db.claim_releases(session=session, due=due, now=now)
    taken = prefs_db.take_held(session=session, chat_ids=claimed)
    # One read for the batch: each digest speaks its chat's language (English when unset).
    languages = chats_db.chat_languages(session=session, chat_ids=taken)
    digests = []
    stories = 0
    for chat_id in claimed:
        held = taken.get(chat_id)
        if held is None or not held.items:
            continue
        html, plain = render(held.items, translator(negotiate(languages.get(chat_id))))
        digests.append((chat_id, held.thread_id, html, plain, len(held.items)))
        stories += len(held.items)
    prefs_db.queue_digests(session=session, digests=digests, now=now)
    report = ReleaseReport(digests=len(digests), stories=stories, empty=len(claimed) - len(digests))
    return report, len(due) == limit
