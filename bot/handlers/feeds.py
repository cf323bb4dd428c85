"""Operators' feed commands: /addfeed /removefeed /feeds /exportfeeds /importfeeds."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from telegram import Document, Update
from telegram.error import TelegramError

from bot.delivery.door import Door
from bot.delivery.render import esc
from bot.feeds.identity import hide_credentials
from bot.feeds.opml import MAX_OPML_BYTES, OpmlError
from bot.handlers.context import Context, command_text, reply, sender_is_admin
from bot.ingest.poll import FeedDisabled
from bot.services.feeds import (
    FeedInputError,
    FeedStatus,
    FeedUnusableError,
    ImportReport,
    ago,
    until,
)

log = logging.getLogger(__name__)

REFUSAL = "Sorry, only the bot's operators can manage feeds."
ADD_USAGE = "Usage: /addfeed URL, e.g. <code>/addfeed https://example.org/news.xml</code>"
REMOVE_USAGE = "Usage: /removefeed URL or /removefeed NUMBER (the number /feeds shows)"
IMPORT_USAGE = (
    "Send an OPML file with <code>/importfeeds</code> as its caption, "
    "or reply <code>/importfeeds</code> to the file."
)
# Telegram allows 4096 characters after entity parsing; the raw HTML of a page stays below
# this, which bounds the visible text too.
PAGE_CHARS = 3800
FEEDS_PER_PAGE = 20
URL_SHOWN = 120
REPORT_LINES = 25

_HEALTH_MARK = {"ok": "✅", "failing": "⚠️", "disabled": "⛔", "new": "⏳"}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def feed_block(status: FeedStatus, *, now: datetime) -> str:
    """Return one feed of the /feeds listing as HTML."""
    mark = _HEALTH_MARK.get(status.health, "")
    lines = [
        f"<b>{status.number}.</b> {mark} {esc(_short(status.name, 100))}",
        esc(_short(hide_credentials(status.url), URL_SHOWN)),
    ]
    next_poll = until(status.next_poll_at, now=now) if status.enabled else "disabled"
    lines.append(
        f"last success {ago(status.last_success_at, now=now)} · next poll {next_poll} · "
        f"{status.entries} stor{'ies' if status.entries != 1 else 'y'}"
    )
    if status.error_count or not status.enabled:
        failures = f"{status.error_count} failure{'s' if status.error_count != 1 else ''} in a row"
        error = esc(_short(status.last_error or "", 200))
        lines.append(f"<i>{failures}: {error}</i>" if error else f"<i>{failures}</i>")
    return "\n".join(lines)


def feed_pages(statuses: Sequence[FeedStatus], *, now: datetime) -> list[str]:
    """Split the listing into pages that each fit one message."""
    pages: list[list[str]] = [[]]
    size = 0
    for status in statuses:
        block = feed_block(status, now=now)
        page = pages[-1]
        if page and (size + len(block) + 2 > PAGE_CHARS or len(page) >= FEEDS_PER_PAGE):
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += len(block) + 2
    total = len(statuses)
    healthy = sum(1 for s in statuses if s.health == "ok")
    header = f"<b>{total} feed{'s' if total != 1 else ''}</b>, {healthy} healthy"
    texts = []
    for n, blocks in enumerate(pages, start=1):
        head = header + (f" — page {n} of {len(pages)}" if len(pages) > 1 else "")
        foot = f"\n\nMore: <code>/feeds {n + 1}</code>" if n < len(pages) else ""
        texts.append(head + "\n\n" + "\n\n".join(blocks) + foot)
    return texts


def import_report_text(report: ImportReport, *, file_name: str) -> str:
    """Describe an OPML import in one message."""
    lines = [
        f"Imported <b>{esc(_short(file_name, 100))}</b>: {len(report.added)} added, "
        f"{len(report.present)} already present, {len(report.refused)} refused."
    ]
    shown = 0
    for added in report.added:
        if shown >= REPORT_LINES:
            break
        lines.append(f"✅ {esc(_short(added.title, 80))} — {added.entries} entries")
        shown += 1
    for url, reason in report.refused:
        if shown >= REPORT_LINES:
            break
        listed = _short(hide_credentials(url), URL_SHOWN)
        lines.append(f"✖️ {esc(listed)}: {esc(_short(hide_credentials(reason), 200))}")
        shown += 1
    hidden = len(report.added) + len(report.refused) - shown
    if hidden > 0:
        lines.append(f"… and {hidden} more; /feeds lists them all.")
    return "\n".join(lines)


async def _operator(update: Update, context: Context) -> bool:
    """Tell whether the sender is an operator; refuse everyone else politely."""
    if sender_is_admin(update, context):
        return True
    await reply(context, update, REFUSAL)
    return False


async def addfeed(update: Update, context: Context) -> None:
    """Check a feed and add it; its current entries become history."""
    if not await _operator(update, context):
        return
    raw = command_text(update)
    if not raw:
        await reply(context, update, ADD_USAGE)
        return
    try:
        added = await context.services.feeds.add(raw)
    except FeedInputError as err:
        await reply(context, update, f"{_sentence(esc(str(err)))}.\n{ADD_USAGE}")
        return
    except FeedUnusableError as err:
        await reply(context, update, f"I can't use that feed: {esc(str(err))}. Nothing was added.")
        return
    name = f"<b>{esc(added.title)}</b>"
    if added.status == "present":
        await reply(
            context, update, f"That feed is already on the list as #{added.number}, {name}."
        )
        return
    verb = "Added" if added.status == "added" else "Enabled again"
    await reply(
        context,
        update,
        f"✅ {verb} #{added.number}: {name} — {added.entries} "
        f"entr{'ies' if added.entries != 1 else 'y'}. They count as already seen; "
        "new stories from now on will alert.",
    )


async def removefeed(update: Update, context: Context) -> None:
    """Remove a feed given by URL or by its number in /feeds."""
    if not await _operator(update, context):
        return
    raw = command_text(update)
    if not raw:
        await reply(context, update, REMOVE_USAGE)
        return
    try:
        removed = await context.services.feeds.remove(raw)
    except FeedInputError as err:
        await reply(context, update, f"{_sentence(esc(str(err)))}. /feeds lists the feeds I watch.")
        return
    await reply(
        context,
        update,
        f"Removed <b>{esc(removed.title)}</b> ({esc(_short(removed.url, URL_SHOWN))}) "
        f"and its {removed.entries} stored stor{'ies' if removed.entries != 1 else 'y'}.",
    )


async def list_feeds(update: Update, context: Context) -> None:
    """List the feeds with their health, a page at a time."""
    if not await _operator(update, context):
        return
    raw = command_text(update)
    statuses = await context.services.feeds.statuses()
    if not statuses:
        await reply(context, update, "I watch no feeds yet. Add one with /addfeed URL.")
        return
    pages = feed_pages(statuses, now=datetime.now(UTC))
    if raw and not (raw.isdigit() and 1 <= int(raw) <= len(pages)):
        await reply(context, update, f"Usage: /feeds [PAGE], where PAGE is 1 to {len(pages)}.")
        return
    await reply(context, update, pages[int(raw) - 1 if raw else 0])


async def exportfeeds(update: Update, context: Context) -> None:
    """Send the feed list as an OPML file."""
    if not await _operator(update, context):
        return
    document, count = await context.services.feeds.export_opml()
    message = update.effective_message
    if message is None:
        return
    if not count:
        await reply(context, update, "I watch no feeds yet, so there is nothing to export.")
        return
    context.door.send_document(
        message.chat_id,
        content=document.encode("utf-8"),
        filename="newsbot-feeds.opml",
        caption=f"{count} feed{'s' if count != 1 else ''} (OPML)",
        thread_id=message.message_thread_id if message.is_topic_message else None,
    )


def _opml_document(update: Update) -> Document | None:
    """Return the file the command came with, or the one it replies to."""
    message = update.effective_message
    if message is None:
        return None
    if message.document is not None:
        return message.document
    replied = message.reply_to_message
    return replied.document if replied is not None else None


async def importfeeds(update: Update, context: Context) -> None:
    """Add every feed of an OPML file sent with the command or replied to."""
    if not await _operator(update, context):
        return
    document = _opml_document(update)
    if document is None:
        await reply(context, update, IMPORT_USAGE)
        return
    name = document.file_name or "the file"
    if document.file_size is not None and document.file_size > MAX_OPML_BYTES:
        await reply(
            context,
            update,
            f"{esc(name)} is too large: I accept OPML files up to "
            f"{MAX_OPML_BYTES // 1024} KiB. Nothing was imported.",
        )
        return
    try:
        file = await context.bot.get_file(document.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as err:
        log.warning("could not download an OPML file: %s", err)
        await reply(
            context, update, "I couldn't download that file from Telegram; please send it again."
        )
        return
    try:
        report = await context.services.feeds.import_opml(data)
    except OpmlError as err:
        await reply(
            context,
            update,
            f"I can't import {esc(name)}: {esc(str(err))}. Nothing was imported.\n{IMPORT_USAGE}",
        )
        return
    await reply(context, update, import_report_text(report, file_name=name))


def disabled_notice(event: FeedDisabled) -> str:
    """Return the HTML message telling operators a feed was disabled."""
    name = f"<b>{esc(event.title)}</b>\n" if event.title else ""
    url = esc(event.url)
    return (
        f"⚠️ I stopped polling a feed after {event.errors} failures in a row:\n{name}"
        f"{url}\nLast error: {esc(event.last_error)}\n\n"
        f"Send <code>/addfeed {url}</code> to try it again, or /removefeed to drop it."
    )


def notify_operators(
    the_door: Door, admin_ids: Sequence[int]
) -> Callable[[FeedDisabled], Awaitable[None]]:
    """Return the watcher's callback that tells every operator a feed was disabled."""

    async def notify(event: FeedDisabled) -> None:
        text = disabled_notice(event)
        for admin in admin_ids:
            # An operator's private chat with the bot has the operator's user id.
            the_door.send(admin, text, kind="notice")

    return notify
