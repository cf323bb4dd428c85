"""Show each running broadcast's progress on its preview, and report finished ones."""

from __future__ import annotations

import time

from bot.handlers.broadcast import PROGRESS_EVERY, finished_text, progress_text
from bot.handlers.context import Context, stored_language
from bot.i18n import translator
from bot.services.broadcasts import BroadcastTally

# How often the job looks; the preview itself is edited at most every PROGRESS_EVERY.
REPORT_EVERY_SECONDS = 2.0


def _edit_preview(context: Context, tally: BroadcastTally, text: str) -> None:
    if tally.admin_message_id is not None:
        context.door.edit_text(tally.admin_chat_id, tally.admin_message_id, text)


async def report_progress(context: Context) -> None:
    """Job: edit running broadcasts' previews; tell the operator when one is finished."""
    shown = context.bot_data.broadcast_progress
    settled = await context.services.broadcasts.settle()
    for tally in settled.finished:
        shown.pop(tally.broadcast_id, None)
        t = translator(await stored_language(context, tally.admin_chat_id))
        text = finished_text(tally, t)
        _edit_preview(context, tally, text)
        context.door.send(tally.admin_chat_id, text, kind="notice")
    now = time.monotonic()
    for tally in settled.running:
        t = translator(await stored_language(context, tally.admin_chat_id))
        text = progress_text(tally, t)
        last_at, last_text = shown.get(tally.broadcast_id, (-PROGRESS_EVERY, ""))
        if text != last_text and now - last_at >= PROGRESS_EVERY:
            shown[tally.broadcast_id] = (now, text)
            _edit_preview(context, tally, text)
