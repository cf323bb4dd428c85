"""The operator's /broadcast: preview with Confirm / Cancel, progress, status; the outbox sends."""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Coroutine
from datetime import datetime
from functools import partial
from typing import Any

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.db import outbox, repo
from bot.db.outbox import BroadcastTally
from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    broadcast_text,
    button_data,
    format_time,
    render_broadcast,
    utf16_len,
)
from bot.handlers.commands import command_text, reply
from bot.handlers.topics import button_id
from bot.state import Context, door, state

log = logging.getLogger(__name__)

CONFIRM = "bc:confirm:"
CANCEL = "bc:cancel:"
STATUS_WORD = "status"
RECENT = 5
# The preview message shows progress at most this often: edits count against the chat's
# flood limit like messages do.
PROGRESS_EVERY = 3.0
PROGRESS_KEY = "broadcast-progress"


def plural(n: int, word: str) -> str:
    """Return '1 chat', '2 chats'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def progress_text(tally: BroadcastTally) -> str:
    """Return the preview's text while the broadcast is being sent."""
    total = tally.broadcast.total
    return (
        f"📣 <b>Sending</b> to {plural(total, 'chat')}: {tally.sent:,} sent, "
        f"{tally.failed:,} failed, {tally.pending:,} waiting."
    )


def finished_text(tally: BroadcastTally) -> str:
    """Return the final tally (the preview's last edit and the admin's report)."""
    total = tally.broadcast.total
    text = (
        f"📣 <b>Broadcast finished</b>: delivered to {tally.sent:,} of {plural(total, 'chat')}; "
        f"{tally.failed:,} failed."
    )
    if tally.unknown:
        text += f" {tally.unknown:,} may or may not have arrived (the connection broke)."
    return text


def too_long_text(length: int) -> str:
    """Return the refusal of a broadcast longer than one Telegram message."""
    return (
        f"That message is {length:,} characters long as Telegram counts them (emoji and some "
        f"other symbols count as two); one message holds at most {MAX_MESSAGE_CHARS:,}. "
        "Please shorten it; nothing was queued."
    )


def preview_messages(text: str, chats: int) -> list[str]:
    """Return the preview: exactly what chats will receive, headed by what it is.

    One message when header and text fit in one; otherwise the text alone (as chats will
    see it) followed by the header, which carries the buttons and the progress.
    """
    body = render_broadcast(text)
    head = f"<b>Broadcast preview</b> — to {plural(chats, 'active chat')}"
    together = f"{head}. Chats will receive exactly this:\n\n{body}"
    if utf16_len(html.unescape(re.sub(r"<[^>]*>", "", together))) <= MAX_MESSAGE_CHARS:
        return [together]
    return [body, f"{head}: the message above, exactly as chats will receive it."]


def _background(context: Context, work: Coroutine[Any, Any, None]) -> None:
    context.application.create_task(work, name="broadcast-preview")


def _when(value: datetime | None) -> str:
    return format_time(value) if value is not None else "—"


def status_text(*, sending: list[BroadcastTally], recent: list[BroadcastTally]) -> str:
    """Return the /broadcast status report: running broadcasts, then recent ones."""
    if not sending and not recent:
        return "📣 No broadcasts yet. Send one with /broadcast TEXT."
    lines = ["📣 <b>Broadcasts</b>"]
    running = {t.broadcast.id for t in sending}
    for t in sending:
        lines.append(
            f"#{t.broadcast.id} <b>sending</b> since {_when(t.broadcast.confirmed_at)}: "
            f"{t.sent:,} of {t.broadcast.total:,} sent, {t.failed:,} failed, "
            f"{t.pending:,} waiting"
        )
    for t in recent:
        if t.broadcast.id in running:
            continue
        lines.append(
            f"#{t.broadcast.id} done {_when(t.broadcast.finished_at)}: delivered to "
            f"{t.sent:,} of {t.broadcast.total:,}; {t.failed:,} failed"
            + (f"; {t.unknown:,} unknown" if t.unknown else "")
        )
    return "\n".join(lines)


async def broadcast(update: Update, context: Context) -> None:
    """Show an admin a preview of the broadcast with Confirm and Cancel buttons."""
    app = state(context)
    user = update.effective_user
    chat = update.effective_chat
    if chat is None or not app.is_admin(user.id if user else None):
        await reply(context, update, "Sorry, only the bot's operators can broadcast.")
        return
    assert user is not None
    text = command_text(update)
    if not text:
        await reply(
            context,
            update,
            "Usage: /broadcast TEXT — I'll show a preview before sending. "
            "/broadcast status shows running and recent broadcasts.",
        )
        return
    if text.lower() == STATUS_WORD:
        await broadcast_status(update, context)
        return
    length = utf16_len(broadcast_text(text))
    if length > MAX_MESSAGE_CHARS:
        await reply(context, update, too_long_text(length))
        return
    bc_id = await app.db(
        lambda s: outbox.create_broadcast(
            session=s, admin_user_id=user.id, admin_chat_id=chat.id, text=text
        )
    )
    chats = await app.db(lambda s: len(repo.active_chat_ids(session=s)))
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Confirm", callback_data=button_data(CONFIRM, bc_id)),
                InlineKeyboardButton("✖️ Cancel", callback_data=button_data(CANCEL, bc_id)),
            ]
        ]
    )
    message = update.effective_message
    assert message is not None
    the_door = door(context)
    messages = preview_messages(text, chats)
    for body in messages[:-1]:
        the_door.reply(message, body, link_preview=False)
    preview = the_door.reply(message, messages[-1], reply_markup=buttons, link_preview=False)

    async def remember(sent: Message | None) -> None:
        if sent is None:
            return  # not delivered (logged by the door): no progress to show on it
        await app.db(
            lambda s: outbox.set_broadcast_message(
                session=s, broadcast_id=bc_id, message_id=sent.message_id
            )
        )

    # Progress edits need the preview's message id; the handler doesn't wait for it.
    preview.add_done_callback(lambda f: _background(context, remember(f.result())))


async def broadcast_status(update: Update, context: Context) -> None:
    """Show the running and recent broadcasts (admins only; the caller checked)."""
    app = state(context)
    sending = await app.db(lambda s: outbox.sending_broadcasts(session=s))
    recent = await app.db(lambda s: outbox.recent_broadcasts(session=s, limit=RECENT))
    await reply(context, update, status_text(sending=sending, recent=recent))


async def broadcast_button(update: Update, context: Context) -> None:
    """Confirm or cancel a broadcast from its preview's buttons."""
    app = state(context)
    query = update.callback_query
    if query is None or query.data is None:
        return
    the_door = door(context)
    if not app.is_admin(query.from_user.id):
        the_door.answer(query, "Only the bot's operators can do that.", show_alert=True)
        return
    confirm = query.data.startswith(CONFIRM)
    bc_id = button_id(query.data, CONFIRM if confirm else CANCEL)
    if bc_id is None:
        the_door.answer(query, "That button is out of date.")
        return
    if confirm:
        bc = await app.db(lambda s: outbox.confirm_broadcast(session=s, broadcast_id=bc_id))
        if bc is None:
            the_door.answer(query, "This broadcast was already handled.")
            return
        the_door.wake()
        the_door.answer(query, "Sending…")
        status = f"📣 <b>Sending</b> to {plural(bc.total, 'chat')}…"
    else:
        cancelled = await app.db(lambda s: outbox.cancel_broadcast(session=s, broadcast_id=bc_id))
        if cancelled is None:
            the_door.answer(query, "This broadcast was already handled.")
            return
        the_door.answer(query, "Cancelled.")
        status = "✖️ Broadcast cancelled; nothing was sent."
    message = query.message
    if isinstance(message, Message):
        the_door.edit_text(message.chat_id, message.message_id, status)


def _edit_preview(context: Context, tally: BroadcastTally, text: str) -> None:
    bc = tally.broadcast
    if bc.admin_message_id is not None:
        door(context).edit_text(bc.admin_chat_id, bc.admin_message_id, text)


def _finish(session: Session, *, broadcast_id: int) -> bool:
    return outbox.finish_broadcast(session=session, broadcast_id=broadcast_id)


async def report_progress(context: Context) -> None:
    """Job: show each running broadcast's progress on its preview; report finished ones."""
    app = state(context)
    shown: dict[int, tuple[float, str]] = context.bot_data.setdefault(PROGRESS_KEY, {})
    tallies = await app.db(lambda s: outbox.sending_broadcasts(session=s))
    now = time.monotonic()
    for tally in tallies:
        bc = tally.broadcast
        assert bc.id is not None
        bc_id = bc.id
        if tally.pending == 0:
            if not await app.db(partial(_finish, broadcast_id=bc_id)):
                continue
            shown.pop(bc_id, None)
            text = finished_text(tally)
            _edit_preview(context, tally, text)
            door(context).send(bc.admin_chat_id, text, kind="notice")
            continue
        text = progress_text(tally)
        last_at, last_text = shown.get(bc_id, (-PROGRESS_EVERY, ""))
        if text != last_text and now - last_at >= PROGRESS_EVERY:
            shown[bc_id] = (now, text)
            _edit_preview(context, tally, text)
