"""The texts of claimed outbox rows, rendered once per story or broadcast and cached."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session

from bot.db import outbox
from bot.db.models import Delivery, Entry
from bot.delivery.render import (
    Alert,
    render_alert,
    render_broadcast,
    render_broadcast_plain,
    render_plain,
)

PAYLOAD_CACHE = 512


class Payloads:
    """HTML and plain texts for outbox rows; a fan-out of one story loads it once."""

    def __init__(self, *, alert_html: Callable[[Alert], str] = render_alert) -> None:
        self._alert_html = alert_html
        self.entries: dict[int, Entry] = {}
        self._alert_texts: dict[int, tuple[str, str]] = {}
        self._broadcast_texts: dict[int, tuple[str, str]] = {}

    def load(self, session: Session, rows: Sequence[Delivery]) -> None:
        """Load the stories and broadcasts of claimed rows that aren't cached yet.

        Neither changes once queued, so they are cached until the cache is full.
        """
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
        return None
