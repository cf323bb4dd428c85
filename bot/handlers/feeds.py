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
from bot.handlers.context import Context, chat_translator, command_text, reply, sender_is_admin
from bot.i18n import ENGLISH, N_, Translator, translator
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

REFUSAL = N_("Sorry, only the bot's operators can manage feeds.")
ADD_USAGE = N_("Usage: /addfeed URL, e.g. <code>/addfeed https://example.org/news.xml</code>")
REMOVE_USAGE = N_("Usage: /removefeed URL or /removefeed NUMBER (the number /feeds shows)")
IMPORT_USAGE = N_(
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


def feed_block(status: FeedStatus, *, now: datetime, t: Translator = ENGLISH) -> str:
    """Return one feed of the /feeds listing as HTML."""
    mark = _HEALTH_MARK.get(status.health, "")
    lines = [
        f"<b>{status.number}.</b> {mark} {esc(_short(status.name, 100))}",
        esc(_short(hide_credentials(status.url), URL_SHOWN)),
    ]
    next_poll = until(status.next_poll_at, now=now) if status.enabled else t.gettext("disabled")
    stories = t.ngettext("{n} story", "{n} stories", status.entries).format(n=status.entries)
    lines.append(
        t.gettext("last success {ago} · next poll {next}").format(
            ago=ago(status.last_success_at, now=now), next=next_poll
        )
        + f" · {stories}"
    )
    if status.error_count or not status.enabled:
        failures = t.ngettext(
            "{n} failure in a row", "{n} failures in a row", status.error_count
        ).format(n=status.error_count)
        error = esc(_short(status.last_error or "", 200))
        lines.append(f"<i>{failures}: {error}</i>" if error else f"<i>{failures}</i>")
    return "\n".join(lines)


def feed_pages(
    statuses: Sequence[FeedStatus], *, now: datetime, t: Translator = ENGLISH
) -> list[str]:
    """Split the listing into pages that each fit one message."""
    pages: list[list[str]] = [[]]
    size = 0
    for status in statuses:
        block = feed_block(status, now=now, t=t)
        page = pages[-1]
        if page and (size + len(block) + 2 > PAGE_CHARS or len(page) >= FEEDS_PER_PAGE):
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += len(block) + 2
    total = len(statuses)
    healthy = sum(1 for s in statuses if s.health == "ok")
    header = t.ngettext(
        "<b>{total} feed</b>, {healthy} healthy", "<b>{total} feeds</b>, {healthy} healthy", total
    ).format(total=total, healthy=healthy)
    texts = []
    for n, blocks in enumerate(pages, start=1):
        of = t.gettext(" — page {n} of {pages}").format(n=n, pages=len(pages))
        head = header + (of if len(pages) > 1 else "")
        more = t.gettext("More: <code>/feeds {next}</code>").format(next=n + 1)
        foot = "\n\n" + more if n < len(pages) else ""
        texts.append(head + "\n\n" + "\n\n".join(blocks) + foot)
    return texts


def import_report_text(report: ImportReport, *, file_name: str, t: Translator = ENGLISH) -> str:
    """Describe an OPML import in one message."""
    lines = [
        t.gettext(
            "Imported <b>{file}</b>: {added} added, {present} already present, {refused} refused."
        ).format(
            file=esc(_short(file_name, 100)),
            added=len(report.added),
            present=len(report.present),
            refused=len(report.refused),
        )
    ]
    shown = 0
    for added in report.added:
        if shown >= REPORT_LINES:
            break
        entries = t.ngettext("{n} entry", "{n} entries", added.entries).format(n=added.entries)
        lines.append(f"✅ {esc(_short(added.title, 80))} — {entries}")
        shown += 1
    for url, reason in report.refused:
        if shown >= REPORT_LINES:
            break
        listed = _short(hide_credentials(url), URL_SHOWN)
        lines.append(f"✖️ {esc(listed)}: {esc(_short(hide_credentials(reason), 200))}")
        shown += 1
    hidden = len(report.added) + len(report.refused) - shown
    if hidden > 0:
        lines.append(t.gettext("… and {hidden} more; /feeds lists them all.").format(hidden=hidden))
    return "\n".join(lines)


async def _operator(update: Update, context: Context, t: Translator) -> bool:
    """Tell whether the sender is an operator; refuse everyone else politely."""
    if sender_is_admin(update, context):
        return True
    await reply(context, update, t.gettext(REFUSAL))
    return False


async def addfeed(update: Update, context: Context) -> None:
    """Check a feed and add it; its current entries become history."""
    t = await chat_translator(update, context)
    if not await _operator(update, context, t):
        return
    raw = command_text(update)
    if not raw:
        await reply(context, update, t.gettext(ADD_USAGE))
        return
    try:
        added = await context.services.feeds.add(raw)
    except FeedInputError as err:
        await reply(context, update, f"{_sentence(esc(str(err)))}.\n{t.gettext(ADD_USAGE)}")
        return
    except FeedUnusableError as err:
        await reply(
            context,
            update,
            t.gettext("I can't use that feed: {error}. Nothing was added.").format(
                error=esc(str(err))
            ),
        )
        return
    name = f"<b>{esc(added.title)}</b>"
    if added.status == "present":
        await reply(
            context,
            update,
            t.gettext("That feed is already on the list as #{number}, {name}.").format(
                number=added.number, name=name
            ),
        )
        return
    entries = t.ngettext("{n} entry", "{n} entries", added.entries).format(n=added.entries)
    done = (
        t.gettext("✅ Added #{number}: {name} — {entries}.")
        if added.status == "added"
        else t.gettext("✅ Enabled again #{number}: {name} — {entries}.")
    )
    await reply(
        context,
        update,
        done.format(number=added.number, name=name, entries=entries)
        + " "
        + t.gettext("They count as already seen; new stories from now on will alert."),
    )


async def removefeed(update: Update, context: Context) -> None:
    """Remove a feed given by URL or by its number in /feeds."""
    t = await chat_translator(update, context)
    if not await _operator(update, context, t):
        return
    raw = command_text(update)
    if not raw:
        await reply(context, update, t.gettext(REMOVE_USAGE))
        return
    try:
        removed = await context.services.feeds.remove(raw)
    except FeedInputError as err:
        listed = t.gettext("/feeds lists the feeds I watch.")
        await reply(context, update, f"{_sentence(esc(str(err)))}. {listed}")
        return
    await reply(
        context,
        update,
        t.ngettext(
            "Removed <b>{title}</b> ({url}) and its {n} stored story.",
            "Removed <b>{title}</b> ({url}) and its {n} stored stories.",
            removed.entries,
        ).format(
            title=esc(removed.title),
            url=esc(_short(removed.url, URL_SHOWN)),
            n=removed.entries,
        ),
    )


async def list_feeds(update: Update, context: Context) -> None:
    """List the feeds with their health, a page at a time."""
    t = await chat_translator(update, context)
    if not await _operator(update, context, t):
        return
    raw = command_text(update)
    statuses = await context.services.feeds.statuses()
    if not statuses:
        await reply(context, update, t.gettext("I watch no feeds yet. Add one with /addfeed URL."))
        return
    pages = feed_pages(statuses, now=datetime.now(UTC), t=t)
    if raw and not (raw.isdigit() and 1 <= int(raw) <= len(pages)):
        await reply(
            context,
            update,
            t.gettext("Usage: /feeds [PAGE], where PAGE is 1 to {pages}.").format(pages=len(pages)),
        )
        return
    await reply(context, update, pages[int(raw) - 1 if raw else 0])


async def exportfeeds(update: Update, context: Context) -> None:
    """Send the feed list as an OPML file."""
    t = await chat_translator(update, context)
    if not await _operator(update, context, t):
        return
    document, count = await context.services.feeds.export_opml()
    message = update.effective_message
    if message is None:
        return
    if not count:
        await reply(
            context, update, t.gettext("I watch no feeds yet, so there is nothing to export.")
        )
        return
    context.door.send_document(
        message.chat_id,
        content=document.encode("utf-8"),
        filename="newsbot-feeds.opml",
        caption=t.ngettext("{n} feed (OPML)", "{n} feeds (OPML)", count).format(n=count),
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
    t = await chat_translator(update, context)
    if not await _operator(update, context, t):
        return
    document = _opml_document(update)
    if document is None:
        await reply(context, update, t.gettext(IMPORT_USAGE))
        return
    name = document.file_name or t.gettext("the file")
    if document.file_size is not None and document.file_size > MAX_OPML_BYTES:
        await reply(
            context,
            update,
            t.gettext(
                "{file} is too large: I accept OPML files up to {size} KiB. Nothing was imported."
            ).format(file=esc(name), size=MAX_OPML_BYTES // 1024),
        )
        return
    try:
        file = await context.bot.get_file(document.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as err:
        log.warning("could not download an OPML file: %s", err)
        await reply(
            context,
            update,
            t.gettext("I couldn't download that file from Telegram; please send it again."),
        )
        return
    try:
        report = await context.services.feeds.import_opml(data)
    except OpmlError as err:
        await reply(
            context,
            update,
            t.gettext("I can't import {file}: {error}. Nothing was imported.").format(
                file=esc(name), error=esc(str(err))
            )
            + "\n"
            + t.gettext(IMPORT_USAGE),
        )
        return
    await reply(context, update, import_report_text(report, file_name=name, t=t))


def disabled_notice(event: FeedDisabled, t: Translator = ENGLISH) -> str:
    """Return the HTML message telling operators a feed was disabled."""
    name = f"<b>{esc(event.title)}</b>\n" if event.title else ""
    url = esc(event.url)
    return (
        t.gettext("⚠️ I stopped polling a feed after {errors} failures in a row:").format(
            errors=event.errors
        )
        + f"\n{name}{url}\n"
        + t.gettext("Last error: {error}").format(error=esc(event.last_error))
        + "\n\n"
        + t.gettext(
            "Send <code>/addfeed {url}</code> to try it again, or /removefeed to drop it."
        ).format(url=url)
    )


def notify_operators(
    the_door: Door,
    admin_ids: Sequence[int],
    language_of: Callable[[int], Awaitable[str | None]] | None = None,
) -> Callable[[FeedDisabled], Awaitable[None]]:
    """Return the watcher's callback that tells every operator a feed was disabled.

    `language_of` gives the language of an operator's chat (English without it).
    """

    async def notify(event: FeedDisabled) -> None:
        for admin in admin_ids:
            lang = await language_of(admin) if language_of is not None else None
            # An operator's private chat with the bot has the operator's user id.
            the_door.send(admin, disabled_notice(event, translator(lang)), kind="notice")

    return notify
