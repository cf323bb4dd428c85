"""The texts of claimed outbox rows, rendered once per story or broadcast and cached."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from bot.db import chats as chats_db
from bot.db import outbox
from bot.db import preferences as prefs_db
from bot.db.models import Delivery, Entry, utcnow
from bot.delivery.render import (
    Alert,
    AlertHtml,
    render_alert,
    render_broadcast,
    render_broadcast_plain,
    render_plain,
)
from bot.digests.times import Preferences, silent
from bot.i18n import DEFAULT, negotiate, translator

PAYLOAD_CACHE = 512


class Payloads:
    """HTML and plain texts for outbox rows; a fan-out of one story loads it once."""

    def __init__(self, *, alert_html: AlertHtml = render_alert) -> None:
        self._alert_html = alert_html
        self.entries: dict[int, Entry] = {}
        self._alerts: dict[int, Alert] = {}
        # (entry id, language) -> texts: the story as is, the words around it translated.
        self._alert_texts: dict[tuple[int, str], tuple[str, str]] = {}
        self._broadcast_texts: dict[int, tuple[str, str]] = {}
        self._digest_texts: dict[int, tuple[str, str]] = {}
        # The claimed rows' chats that changed their preferences (quiet hours, previews).
        self._chat_prefs: dict[int, Preferences] = {}
        # The languages of the chats in the rows claimed last (read with every claim).
        self._languages: dict[int, str] = {}

    def load(self, session: Session, rows: Sequence[Delivery]) -> None:
        """Load the stories, broadcasts and digests of claimed rows that aren't cached yet.

        None of them changes once queued, so they are cached until the cache is full; the
        chats' preferences and languages are read afresh for every claim (they may change).
        """
        self._chat_prefs = prefs_db.load_many(session=session, chat_ids={r.chat_id for r in rows})
        digest_ids = {r.digest_id for r in rows if r.digest_id is not None}
        self._digest_texts = prefs_db.digest_texts(session=session, digest_ids=digest_ids)
        alert_chats = {r.chat_id for r in rows if r.entry_id is not None or r.story_id is not None}
        self._languages = chats_db.chat_languages(session=session, chat_ids=alert_chats)
        if len(self.entries) + len(self._broadcast_texts) >= PAYLOAD_CACHE:
            self.entries.clear()
            self._alerts.clear()
            self._alert_texts.clear()
            self._broadcast_texts.clear()
        entry_ids = {r.entry_id for r in rows if r.entry_id is not None} - self.entries.keys()
        bc_ids = {r.broadcast_id for r in rows if r.broadcast_id is not None}
        bc_ids -= self._broadcast_texts.keys()
        if not entry_ids and not bc_ids:
            return
        entries, broadcasts, names = outbox.deliveries_payload(
            session=session, entry_ids=entry_ids, broadcast_ids=bc_ids
        )
        for entry_id, e in entries.items():
            self.entries[entry_id] = e
            self._alerts[entry_id] = entry_alert(e, names.get(e.feed_id, ""))
        for bc_id, bc in broadcasts.items():
            self._broadcast_texts[bc_id] = (
                render_broadcast(bc.text),
                render_broadcast_plain(bc.text),
            )

    def texts(self, row: Delivery) -> tuple[str, str] | None:
        """Return (HTML, plain text) for the row, or None when there is nothing to send."""
        if row.entry_id is not None:
            return self._alert(row.entry_id, self.language(row.chat_id))
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

    def language(self, chat_id: int) -> str:
        """Return the language the claimed row's chat reads its alerts in."""
        return negotiate(self._languages.get(chat_id, DEFAULT))

    def _alert(self, entry_id: int, lang: str) -> tuple[str, str] | None:
        texts = self._alert_texts.get((entry_id, lang))
        if texts is None:
            alert = self._alerts.get(entry_id)
            if alert is None:
                return None
            html = self._alert_html(alert, translator(lang))
            texts = self._alert_texts[(entry_id, lang)] = (html, render_plain(alert))
        return texts


def entry_alert(entry: Entry, source: str) -> Alert:
    """Return a stored entry as its alert, `source` being its feed's name."""
    return Alert(
        title=entry.title,
        summary=entry.summary,
        link=entry.link,
        source=source,
        published=entry.published_at or entry.seen_at,
    )
