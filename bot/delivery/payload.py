"""The texts of claimed outbox rows, rendered once per story or broadcast and cached."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from bot.db import chats as chats_db
from bot.db import outbox
from bot.db.models import Delivery, Entry
from bot.delivery.render import (
    Alert,
    AlertHtml,
    render_alert,
    render_broadcast,
    render_broadcast_plain,
    render_plain,
)
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
        # The languages of the chats in the rows claimed last (read with every claim).
        self._languages: dict[int, str] = {}

    def load(self, session: Session, rows: Sequence[Delivery]) -> None:
        """Load the stories and broadcasts of claimed rows that aren't cached yet.

        Neither changes once queued, so they are cached until the cache is full. The chats'
        languages are read each time: a chat may have switched since.
        """
        alert_chats = {r.chat_id for r in rows if r.entry_id is not None}
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
            self._alerts[entry_id] = Alert(
                title=e.title,
                summary=e.summary,
                link=e.link,
                source=names.get(e.feed_id, ""),
                published=e.published_at or e.seen_at,
            )
        for bc_id, bc in broadcasts.items():
            self._broadcast_texts[bc_id] = (
                render_broadcast(bc.text),
                render_broadcast_plain(bc.text),
            )

    def texts(self, row: Delivery) -> tuple[str, str] | None:
        """Return (HTML, plain text) for the row, or None when there is nothing to send."""
        if row.entry_id is not None:
            return self._alert(row.entry_id, negotiate(self._languages.get(row.chat_id, DEFAULT)))
        if row.broadcast_id is not None:
            return self._broadcast_texts.get(row.broadcast_id)
        return None

    def _alert(self, entry_id: int, lang: str) -> tuple[str, str] | None:
        texts = self._alert_texts.get((entry_id, lang))
        if texts is None:
            alert = self._alerts.get(entry_id)
            if alert is None:
                return None
            html = self._alert_html(alert, translator(lang))
            texts = self._alert_texts[(entry_id, lang)] = (html, render_plain(alert))
        return texts
