"""The operator's /broadcast: preview with Confirm / Cancel, progress, status; the outbox sends."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    broadcast_text,
    button_data,
    format_time,
    render_broadcast,
    utf16_len,
    visible_text,
)
from bot.handlers.context import Context, chat_translator, command_text, reply, sender_is_admin
from bot.handlers.topics import button_id
from bot.i18n import ENGLISH, Translator
from bot.services.broadcasts import BroadcastTally

log = logging.getLogger(__name__)

CONFIRM = "bc:confirm:"
CANCEL = "bc:cancel:"
STATUS_WORD = "status"
RECENT = 5
# The preview message shows progress at most this often: edits count against the chat's
# flood limit like messages do.
PROGRESS_EVERY = 3.0


def plural(n: int, word: str) -> str:
    """Return '1 chat', '2 chats'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def chats(n: int, t: Translator = ENGLISH) -> str:
    """Return '1 chat', '2 chats' in the language."""
    return t.ngettext("{n} chat", "{n} chats", n).format(n=f"{n:,}")


def progress_text(tally: BroadcastTally, t: Translator = ENGLISH) -> str:
    """Return the preview's text while the broadcast is being sent."""
    return t.gettext(
        "📣 <b>Sending</b> to {chats}: {sent} sent, {failed} failed, {pending} waiting."
    ).format(
        chats=chats(tally.total, t),
        sent=f"{tally.sent:,}",
        failed=f"{tally.failed:,}",
        pending=f"{tally.pending:,}",
    )


def finished_text(tally: BroadcastTally, t: Translator = ENGLISH) -> str:
    """Return the final tally (the preview's last edit and the admin's report)."""
    text = t.gettext(
        "📣 <b>Broadcast finished</b>: delivered to {sent} of {chats}; {failed} failed."
    ).format(sent=f"{tally.sent:,}", chats=chats(tally.total, t), failed=f"{tally.failed:,}")
    if tally.unknown:
        text += " " + t.gettext(
            "{unknown} may or may not have arrived (the connection broke)."
        ).format(unknown=f"{tally.unknown:,}")
    return text


def too_long_text(length: int, t: Translator = ENGLISH) -> str:
    """Return the refusal of a broadcast longer than one Telegram message."""
    return t.gettext(
        "That message is {length} characters long as Telegram counts them (emoji and some "
        "other symbols count as two); one message holds at most {limit}. "
        "Please shorten it; nothing was queued."
    ).format(length=f"{length:,}", limit=f"{MAX_MESSAGE_CHARS:,}")


def preview_messages(text: str, count: int, t: Translator = ENGLISH) -> list[str]:
    """Return the preview: exactly what chats will receive, headed by what it is.

    One message when header and text fit in one; otherwise the text alone (as chats will
    see it) followed by the header, which carries the buttons and the progress.
    """
    body = render_broadcast(text)
    active = t.ngettext("{n} active chat", "{n} active chats", count).format(n=f"{count:,}")
    head = t.gettext("<b>Broadcast preview</b> — to {chats}").format(chats=active)
    together = head + t.gettext(". Chats will receive exactly this:") + f"\n\n{body}"
    if utf16_len(visible_text(together)) <= MAX_MESSAGE_CHARS:
        return [together]
    return [body, head + t.gettext(": the message above, exactly as chats will receive it.")]


def _background(context: Context, work: Coroutine[Any, Any, None]) -> None:
    context.application.create_task(work, name="broadcast-preview")


def _when(value: datetime | None) -> str:
    return format_time(value) if value is not None else "—"


def status_text(
    *, sending: list[BroadcastTally], recent: list[BroadcastTally], t: Translator = ENGLISH
) -> str:
    """Return the /broadcast status report: running broadcasts, then recent ones."""
    if not sending and not recent:
        return t.gettext("📣 No broadcasts yet. Send one with /broadcast TEXT.")
    lines = ["📣 <b>" + t.gettext("Broadcasts") + "</b>"]
    running = {b.broadcast_id for b in sending}
    for b in sending:
        lines.append(
            t.gettext(
                "#{id} <b>sending</b> since {when}: {sent} of {total} sent, {failed} failed, "
                "{pending} waiting"
            ).format(
                id=b.broadcast_id,
                when=_when(b.confirmed_at),
                sent=f"{b.sent:,}",
                total=f"{b.total:,}",
                failed=f"{b.failed:,}",
                pending=f"{b.pending:,}",
            )
        )
    for b in recent:
        if b.broadcast_id in running:
            continue
        lines.append(
            t.gettext("#{id} done {when}: delivered to {sent} of {total}; {failed} failed").format(
                id=b.broadcast_id,
                when=_when(b.finished_at),
                sent=f"{b.sent:,}",
                total=f"{b.total:,}",
                failed=f"{b.failed:,}",
            )
            + (
                t.gettext("; {unknown} unknown").format(unknown=f"{b.unknown:,}")
                if b.unknown
                else ""
            )
        )
    return "\n".join(lines)


async def broadcast(update: Update, context: Context) -> None:
    """Show an admin a preview of the broadcast with Confirm and Cancel buttons."""
    user = update.effective_user
    chat = update.effective_chat
    message = update.effective_message
    t = await chat_translator(update, context)
    if chat is None or message is None or user is None or not sender_is_admin(update, context):
        await reply(context, update, t.gettext("Sorry, only the bot's operators can broadcast."))
        return
    text = command_text(update)
    if not text:
        await reply(
            context,
            update,
            t.gettext(
                "Usage: /broadcast TEXT — I'll show a preview before sending. "
                "/broadcast status shows running and recent broadcasts."
            ),
        )
        return
    if text.lower() == STATUS_WORD:
        await broadcast_status(update, context)
        return
    length = utf16_len(broadcast_text(text))
    if length > MAX_MESSAGE_CHARS:
        await reply(context, update, too_long_text(length, t))
        return
    service = context.services.broadcasts
    draft = await service.draft(admin_user_id=user.id, admin_chat_id=chat.id, text=text)
    bc_id = draft.broadcast_id
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("✅ Confirm"), callback_data=button_data(CONFIRM, bc_id)
                ),
                InlineKeyboardButton(
                    t.gettext("✖️ Cancel"), callback_data=button_data(CANCEL, bc_id)
                ),
            ]
        ]
    )
    the_door = context.door
    messages = preview_messages(text, draft.chats, t)
    for body in messages[:-1]:
        the_door.reply(message, body, link_preview=False)
    preview = the_door.reply(message, messages[-1], reply_markup=buttons, link_preview=False)

    async def remember(sent: Message | None) -> None:
        if sent is None:
            return  # not delivered (logged by the door): no progress to show on it
        await service.remember_preview(bc_id, sent.message_id)

    # Progress edits need the preview's message id; the handler doesn't wait for it.
    preview.add_done_callback(lambda f: _background(context, remember(f.result())))


async def broadcast_status(update: Update, context: Context) -> None:
    """Show the running and recent broadcasts (admins only; the caller checked)."""
    t = await chat_translator(update, context)
    status = await context.services.broadcasts.status(recent=RECENT)
    await reply(context, update, status_text(sending=status.sending, recent=status.recent, t=t))


async def broadcast_button(update: Update, context: Context) -> None:
    """Confirm or cancel a broadcast from its preview's buttons."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    the_door = context.door
    t = await chat_translator(update, context)
    if not context.is_admin(query.from_user.id):
        the_door.answer(query, t.gettext("Only the bot's operators can do that."), show_alert=True)
        return
    confirm = query.data.startswith(CONFIRM)
    bc_id = button_id(query.data, CONFIRM if confirm else CANCEL)
    if bc_id is None:
        the_door.answer(query, t.gettext("That button is out of date."))
        return
    service = context.services.broadcasts
    if confirm:
        total = await service.confirm(bc_id)
        if total is None:
            the_door.answer(query, t.gettext("This broadcast was already handled."))
            return
        the_door.wake()
        the_door.answer(query, t.gettext("Sending…"))
        status = t.gettext("📣 <b>Sending</b> to {chats}…").format(chats=chats(total, t))
    else:
        if not await service.cancel(bc_id):
            the_door.answer(query, t.gettext("This broadcast was already handled."))
            return
        the_door.answer(query, t.gettext("Cancelled."))
        status = t.gettext("✖️ Broadcast cancelled; nothing was sent.")
    message = query.message
    if isinstance(message, Message):
        the_door.edit_text(message.chat_id, message.message_id, status)
