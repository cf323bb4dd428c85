"""The texts of claimed outbox rows, rendered once per story or broadcast and cached."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import Session

from bot.db import outbox
from bot.db import preferences as prefs_db
from bot.db.models import Delivery, Entry, utcnow
from bot.delivery.render import (
    Alert,
    render_alert,
    render_broadcast,
    render_broadcast_plain,
    render_plain,
)
from bot.digests.times import Preferences, silent

PAYLOAD_CACHE = 512


class Payloads:
    """HTML and plain texts for outbox rows; a fan-out of one story loads it once."""

    def __init__(self, *, alert_html: Callable[[Alert], str] = render_alert) -> None:
        self._alert_html = alert_html
        self.entries: dict[int, Entry] = {}
        self._alert_texts: dict[int, tuple[str, str]] = {}
        self._broadcast_texts: dict[int, tuple[str, str]] = {}
        self._digest_texts: dict[int, tuple[str, str]] = {}
        # The claimed rows' chats that changed their preferences (quiet hours, previews).
        self._chat_prefs: dict[int, Preferences] = {}

    def load(self, session: Session, rows: Sequence[Delivery]) -> None:
        """Load the stories, broadcasts and digests of claimed rows that aren't cached yet.

        None of them changes once queued, so they are cached until the cache is full; the
        chats' preferences are read afresh for every claim.
        """
        self._chat_prefs = prefs_db.load_many(session=session, chat_ids={r.chat_id for r in rows})
        digest_ids = {r.digest_id for r in rows if r.digest_id is not None}
        self._digest_texts = prefs_db.digest_texts(session=session, digest_ids=digest_ids)
        entry_ids = {r.entry_id for r in rows if r.entry_id is not None} - self.entries.keys()
        bc_ids = {r.broadcast_id for r in rows if r.broadcast_id is not None}
        bc_ids -= self._broadcast_texts.keys()
        if not entry_ids and not bc_ids:
            return
        if len(self.entries) + len(self._broadcast_texts) >= PAYLOAD_CACHE:
            self.entries.clear()
            self._alert_texts.clear()
            self._broadcast_texts.clear()
        entries, broadcasts, names = outbox.deliveries_payload(
            session=session, entry_ids=entry_ids, broadcast_ids=bc_ids
        )
        for entry_id, e in entries.items():
            self.entries[entry_id] = e
            alert = Alert(
                title=e.title,
                summary=e.summary,
                link=e.link,
                source=names.get(e.feed_id, ""),
                published=e.published_at or e.seen_at,
            )
            self._alert_texts[entry_id] = (self._alert_html(alert), render_plain(alert))
        for bc_id, bc in broadcasts.items():
            self._broadcast_texts[bc_id] = (
                render_broadcast(bc.text),
                render_broadcast_plain(bc.text),
            )

    def texts(self, row: Delivery) -> tuple[str, str] | None:
        """Return (HTML, plain text) for the row, or None when there is nothing to send."""
        if row.entry_id is not None:
            return self._alert_texts.get(row.entry_id)
        if row.broadcast_id is not None:
            return self._broadcast_texts.get(row.broadcast_id)
        if row.digest_id is not None:
            return self._digest_texts.get(row.digest_id)
        return None

    def send_options(self, chat_id: int, now: datetime | None = None) -> tuple[bool, bool]:
        """Return (silent, link previews) for a message to the chat sent at `now`."""
        prefs = self._chat_prefs.get(chat_id)
        if prefs is None:
            return False, True
        return silent(prefs, now or utcnow()), prefs.previews
