"""Chat commands: parse the input, call a service, reply. No SQL here."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlmodel import Session
from telegram import Chat as TgChat
from telegram import Update
from telegram.constants import ParseMode

from bot.db import repo
from bot.db.models import Entry
from bot.delivery.render import Alert, esc, render_alert
from bot.state import AppState, Context, state
from bot.topics import Document, Query, QueryError, matches, parse_query

log = logging.getLogger(__name__)

LATEST_SCAN = 500
LATEST_MAX = 5

HELP = (
    "<b>What I do</b>\n"
    "I watch news feeds and send you a short summary with a link as soon as a story "
    "matches one of your topics.\n\n"
    "<b>Commands</b>\n"
    "/subscribe <i>topic</i> — get alerts, e.g. <code>/subscribe kosovo</code> or "
    '<code>/subscribe "climate change" -football</code>\n'
    "/unsubscribe <i>topic</i> — stop them, e.g. <code>/unsubscribe kosovo</code>\n"
    "/topics — list this chat's topics\n"
    "/latest [<i>topic</i>] [<i>n</i>] — the newest story, e.g. <code>/latest</code>, "
    "<code>/latest nato 3</code>\n"
    "/help — this message\n\n"
    "<b>Topics</b>: words must all appear (<code>nato russia</code>); "
    '<code>"quoted phrases"</code>; <code>OR</code> between alternatives '
    "(<code>kosovo OR serbia</code>); <code>-word</code> excludes."
)
ADMIN_HELP = "\n\n<b>Operators</b>\n/broadcast <i>text</i> — message every chat, after a preview"

SUBSCRIBE_USAGE = "Usage: /subscribe TOPIC, for example <code>/subscribe kosovo</code>"
UNSUBSCRIBE_USAGE = "Usage: /unsubscribe TOPIC, for example <code>/unsubscribe kosovo</code>"

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?\s*", re.ASCII)


def command_text(update: Update) -> str:
    """Return what follows the command, keeping quotes and spacing inside it."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    return _COMMAND_RE.sub("", text, count=1).strip()


@dataclass(frozen=True, slots=True)
class LatestRequest:
    query: Query | None
    count: int


def parse_latest(raw: str) -> LatestRequest:
    """Parse `/latest [QUERY] [N]`; N is 1..5 and defaults to 1."""
    words = raw.split()
    count = 1
    if words and words[-1].isdigit():
        count = int(words[-1])
        if not 1 <= count <= LATEST_MAX:
            raise QueryError(f"I can show between 1 and {LATEST_MAX} stories at a time.")
        raw = raw[: raw.rstrip().rfind(words[-1])].strip()
    query = parse_query(raw) if raw else None
    return LatestRequest(query=query, count=count)


def entry_alert(entry: Entry, source: str) -> Alert:
    """Return the alert for a stored entry."""
    return Alert(
        title=entry.title,
        summary=entry.summary,
        link=entry.link,
        source=source,
        published=entry.published_at or entry.seen_at,
    )


def find_latest(*, session: Session, request: LatestRequest) -> list[Alert]:
    """Return the newest stored stories matching the request, as alerts."""
    found: list[Entry] = []
    for entry in repo.latest_entries(session=session, limit=LATEST_SCAN):
        if request.query is not None:
            doc = Document.from_fields(
                title=entry.title,
                summary=entry.summary,
                categories=entry.categories.split("\n") if entry.categories else (),
            )
            if not matches(request.query, doc):
                continue
        found.append(entry)
        if len(found) >= request.count:
            break
    names = repo.feed_titles(session=session, feed_ids=(e.feed_id for e in found))
    return [entry_alert(e, names.get(e.feed_id, "")) for e in found]


async def reply(update: Update, text: str) -> None:
    """Answer in the chat the update came from, as HTML."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, parse_mode=ParseMode.HTML, do_quote=False)


def _chat_fields(chat: TgChat) -> tuple[int, str, str | None]:
    title = chat.title or chat.full_name or chat.username
    return chat.id, chat.type, title


async def _known_chat(app: AppState, update: Update) -> bool:
    """Make sure the chat is stored; return whether it receives alerts."""
    chat = update.effective_chat
    if chat is None:
        return False
    chat_id, chat_type, title = _chat_fields(chat)
    row = await app.db(
        lambda s: repo.ensure_chat(session=s, chat_id=chat_id, chat_type=chat_type, title=title)
    )
    return row.active


PAUSED_NOTE = "\n\nAlerts are paused for this chat; send /start to resume them."


async def start(update: Update, context: Context) -> None:
    """Register the chat (or bring it back) and say what the bot does."""
    app = state(context)
    chat = update.effective_chat
    if chat is None:
        return
    chat_id, chat_type, title = _chat_fields(chat)
    await app.db(
        lambda s: repo.register_chat(session=s, chat_id=chat_id, chat_type=chat_type, title=title)
    )
    await reply(
        update,
        "👋 <b>Welcome!</b> I send breaking news alerts: a headline, a two-sentence summary "
        "and a link, as soon as a story matches a topic you follow.\n\n"
        "Start with <code>/subscribe kosovo</code> (any word or phrase), or "
        "<code>/latest</code> for the newest story. /help lists everything.",
    )


async def help_command(update: Update, context: Context) -> None:
    """List the commands with an example each."""
    app = state(context)
    user = update.effective_user
    await reply(update, HELP + (ADMIN_HELP if app.is_admin(user.id if user else None) else ""))


async def subscribe(update: Update, context: Context) -> None:
    """Subscribe the chat to a topic."""
    app = state(context)
    raw = command_text(update)
    if not raw:
        await reply(update, f"Tell me what to follow. {SUBSCRIBE_USAGE}")
        return
    try:
        query = parse_query(raw)
    except QueryError as err:
        await reply(update, f"{esc(str(err))}\n{SUBSCRIBE_USAGE}")
        return
    active = await _known_chat(app, update)
    chat = update.effective_chat
    assert chat is not None
    message = update.effective_message
    thread_id = message.message_thread_id if message and message.is_topic_message else None
    try:
        outcome = await app.db(
            lambda s: repo.subscribe(
                session=s,
                chat_id=chat.id,
                canonical=query.canonical,
                display=query.display,
                thread_id=thread_id,
            )
        )
    except repo.TopicLimitError:
        await reply(
            update,
            f"This chat already follows {repo.MAX_TOPICS_PER_CHAT} topics, the most I allow. "
            "Use /topics to see them and /unsubscribe to drop one.",
        )
        return
    name = f"<b>{esc(query.display)}</b>"
    if outcome.created:
        text = f"✅ Subscribed to {name}. I'll send an alert when a new story matches."
    else:
        text = f"You're already subscribed to {name}."
    await reply(update, text + ("" if active else PAUSED_NOTE))


async def unsubscribe(update: Update, context: Context) -> None:
    """Remove one of the chat's topics."""
    app = state(context)
    raw = command_text(update)
    if not raw:
        await reply(update, f"Tell me which topic to drop. {UNSUBSCRIBE_USAGE}")
        return
    try:
        query = parse_query(raw)
    except QueryError as err:
        await reply(update, f"{esc(str(err))}\n{UNSUBSCRIBE_USAGE}")
        return
    chat = update.effective_chat
    assert chat is not None
    topic = await app.db(
        lambda s: repo.unsubscribe(session=s, chat_id=chat.id, canonical=query.canonical)
    )
    if topic is None:
        await reply(
            update,
            f"This chat isn't subscribed to <b>{esc(query.display)}</b>. "
            "/topics lists the topics it follows.",
        )
    else:
        await reply(update, f"Unsubscribed from <b>{esc(topic.display)}</b>.")


async def topics(update: Update, context: Context) -> None:
    """List the chat's topics."""
    app = state(context)
    chat = update.effective_chat
    assert chat is not None
    rows = await app.db(lambda s: repo.chat_topics(session=s, chat_id=chat.id))
    if not rows:
        await reply(update, "This chat follows no topics yet. Try <code>/subscribe kosovo</code>.")
        return
    lines = [f"• {esc(t.display)}" for t in rows]
    await reply(
        update,
        f"<b>This chat follows {len(rows)} topic{'s' if len(rows) != 1 else ''}:</b>\n"
        + "\n".join(lines)
        + "\n\nDrop one with /unsubscribe TOPIC.",
    )


async def latest(update: Update, context: Context) -> None:
    """Show the newest stored story, or the newest ones matching a topic."""
    app = state(context)
    try:
        request = parse_latest(command_text(update))
    except QueryError as err:
        await reply(update, f"{esc(str(err))}\nUsage: /latest [TOPIC] [N], e.g. /latest nato 3")
        return
    alerts = await app.db(lambda s: find_latest(session=s, request=request))
    if not alerts:
        if request.query is None:
            await reply(update, "No stories yet — I'll have some after the next feed check.")
        else:
            await reply(
                update,
                f"No stored story matches <b>{esc(request.query.display)}</b> yet. "
                f"<code>/subscribe {esc(request.query.display)}</code> to get the next one.",
            )
        return
    for alert in alerts:
        await reply(update, render_alert(alert))


async def other_text(update: Update, context: Context) -> None:
    """Point people who write plain text in a private chat to /help."""
    await reply(update, "I understand commands only. /help lists them.")


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command the bot doesn't have."""
    await reply(update, "I don't know that command. /help lists the ones I have.")
