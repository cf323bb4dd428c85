"""Chat commands: parse the input, call a service, reply. No SQL here."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import Session
from telegram import Update

from bot.db import repo
from bot.db import topics as topics_db
from bot.db.models import CatalogTopic, Entry
from bot.delivery.render import Alert, esc, render_alert
from bot.handlers import topics as topic_ui
from bot.handlers.guard import MANAGE_REFUSAL, may_manage
from bot.state import AppState, Context, door, state
from bot.topics import Document, Query, QueryError, matches, parse_query
from bot.topics.catalog import MAX_CATALOG_TOPICS, CatalogError, make_entry

log = logging.getLogger(__name__)

LATEST_SCAN = 500
LATEST_MAX = 5
TEST_SCAN = 20
HEADLINE_CHARS = 100

HELP = (
    "<b>What I do</b>\n"
    "I watch news feeds and send you a short summary with a link as soon as a story "
    "matches one of your topics.\n\n"
    "<b>Commands</b>\n"
    "/subscribe — pick topics from a list of buttons\n"
    "/subscribe <i>topic</i> — get alerts, e.g. <code>/subscribe kosovo</code>, "
    '<code>/subscribe "climate change" -football</code> or a name from the list, '
    "e.g. <code>/subscribe sports</code>\n"
    "/unsubscribe <i>topic</i> — stop them, e.g. <code>/unsubscribe kosovo</code>\n"
    "/topics — this chat's topics, with buttons to drop them\n"
    "/testtopic <i>topic</i> — which of the 20 newest stories a topic matches\n"
    "/latest [<i>topic</i>] [<i>n</i>] — the newest story, e.g. <code>/latest</code>, "
    "<code>/latest nato 3</code>\n"
    "/help — this message\n\n"
    "<b>Topics</b>: words must all appear (<code>nato russia</code>); "
    '<code>"quoted phrases"</code>; <code>OR</code> between alternatives '
    "(<code>kosovo OR serbia</code>); <code>-word</code> excludes. A name from the list "
    '(<code>sports</code>) means that topic; quote it (<code>"sports"</code>) for the word.\n'
    "In groups and channels, only administrators can change the topics."
)
ADMIN_HELP = (
    "\n\n<b>Operators</b>\n/broadcast <i>text</i> — message every chat, after a preview"
    "\n/feeds [<i>page</i>] — the feeds with their health · /addfeed <i>URL</i> · "
    "/removefeed <i>URL or number</i> · /exportfeeds · /importfeeds (caption of, or reply to, "
    "an .opml file)"
)
CATALOG_ADMIN_HELP = (
    "\n/addtopic <i>NAME QUERY</i> · /removetopic <i>NAME</i> — the topic list /subscribe shows"
)

SUBSCRIBE_USAGE = "Usage: /subscribe TOPIC, for example <code>/subscribe kosovo</code>"
UNSUBSCRIBE_USAGE = "Usage: /unsubscribe TOPIC, for example <code>/unsubscribe kosovo</code>"
TESTTOPIC_USAGE = "Usage: /testtopic TOPIC, for example <code>/testtopic nato OR kosovo</code>"
ADDTOPIC_USAGE = (
    "Usage: /addtopic NAME QUERY, for example "
    '<code>/addtopic Climate climate OR "global warming"</code>'
)
REMOVETOPIC_USAGE = "Usage: /removetopic NAME, for example <code>/removetopic Climate</code>"
OPERATORS_ONLY = "Sorry, only the bot's operators can change the topic list."

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
    # The catalog name the query came from, if any.
    name: str | None = None

    @property
    def label(self) -> str:
        """Return how the topic is shown."""
        if self.name:
            return self.name
        return self.query.display if self.query is not None else ""


def parse_latest(raw: str, catalog: Sequence[CatalogTopic] = ()) -> LatestRequest:
    """Parse `/latest [QUERY] [N]`; N is 1..5 and defaults to 1; QUERY may be a catalog name."""
    words = raw.split()
    count = 1
    if words and words[-1].isdigit():
        count = int(words[-1])
        if not 1 <= count <= LATEST_MAX:
            raise QueryError(f"I can show between 1 and {LATEST_MAX} stories at a time.")
        raw = raw[: raw.rstrip().rfind(words[-1])].strip()
    if not raw:
        return LatestRequest(query=None, count=count)
    choice = topic_ui.choose_topic(raw, catalog)
    return LatestRequest(query=choice.query, count=count, name=choice.name)


def entry_alert(entry: Entry, source: str) -> Alert:
    """Return the alert for a stored entry."""
    return Alert(
        title=entry.title,
        summary=entry.summary,
        link=entry.link,
        source=source,
        published=entry.published_at or entry.seen_at,
    )


def entry_document(entry: Entry) -> Document:
    """Return a stored entry as topics see it: headline, summary and categories."""
    return Document.from_fields(
        title=entry.title,
        summary=entry.summary,
        categories=entry.categories.split("\n") if entry.categories else (),
    )


def find_latest(*, session: Session, request: LatestRequest) -> list[Alert]:
    """Return the newest stored stories matching the request, as alerts."""
    found: list[Entry] = []
    for entry in repo.latest_entries(session=session, limit=LATEST_SCAN):
        if request.query is not None and not matches(request.query, entry_document(entry)):
            continue
        found.append(entry)
        if len(found) >= request.count:
            break
    names = repo.feed_titles(session=session, feed_ids=(e.feed_id for e in found))
    return [entry_alert(e, names.get(e.feed_id, "")) for e in found]


@dataclass(frozen=True, slots=True)
class TopicTest:
    """The newest stories and, for each, whether the topic matches it."""

    headlines: tuple[tuple[str, bool], ...]

    @property
    def matched(self) -> int:
        return sum(hit for _, hit in self.headlines)


def try_topic(*, session: Session, query: Query, scan: int = TEST_SCAN) -> TopicTest:
    """Match the query against the newest stored stories."""
    entries = repo.latest_entries(session=session, limit=scan)
    return TopicTest(headlines=tuple((e.title, matches(query, entry_document(e))) for e in entries))


def topic_test_text(test: TopicTest, label: str) -> str:
    """Return /testtopic's answer: a count and the headlines, ✅ where the topic matches."""
    name = f"<b>{esc(label)}</b>"
    total = len(test.headlines)
    if not total:
        return "No stories are stored yet — try again after the next feed check."
    lines = [
        f"{'✅' if hit else '—'} {esc(topic_ui.shorten(title, HEADLINE_CHARS))}"
        for title, hit in test.headlines
    ]
    stories = "story" if total == 1 else "stories"
    head = f"🔎 {name} matches {test.matched} of the {total} newest {stories}:"
    tail = (
        f"\n\nFollow it with <code>/subscribe {esc(label)}</code>."
        if test.matched
        else "\n\nNone match: try fewer words, OR between alternatives, or a shorter phrase."
    )
    return head + "\n" + "\n".join(lines) + tail


async def reply(context: Context, update: Update, text: str) -> None:
    """Hand the door an answer (HTML) for the chat the update came from."""
    message = update.effective_message
    if message is not None:
        door(context).reply(message, text)


async def _known_chat(app: AppState, update: Update) -> bool:
    """Make sure the chat is stored; return whether it receives alerts."""
    chat = update.effective_chat
    if chat is None:
        return False
    return await topic_ui.remember_chat(app, chat)


async def _catalog(app: AppState) -> list[CatalogTopic]:
    return await app.db(lambda s: topics_db.catalog_topics(session=s))


PAUSED_NOTE = "\n\nAlerts are paused for this chat; send /start to resume them."


async def _topic_argument(
    update: Update, context: Context, raw: str, *, usage: str
) -> topic_ui.TopicChoice | None:
    """Read a topic (query or catalog name); on bad input explain it with `usage` and give None."""
    try:
        return topic_ui.choose_topic(raw, await _catalog(state(context)))
    except QueryError as err:
        await reply(context, update, f"{esc(str(err))}\n{usage}")
        return None


async def start(update: Update, context: Context) -> None:
    """Register the chat (or bring it back) and say what the bot does."""
    app = state(context)
    chat = update.effective_chat
    if chat is None:
        return
    chat_id, chat_type, title = topic_ui.chat_fields(chat)
    await app.db(
        lambda s: repo.register_chat(session=s, chat_id=chat_id, chat_type=chat_type, title=title)
    )
    await reply(
        context,
        update,
        "👋 <b>Welcome!</b> I send breaking news alerts: a headline, a two-sentence summary "
        "and a link, as soon as a story matches a topic you follow.\n\n"
        "Send /subscribe to pick topics from a list, or follow any words: "
        "<code>/subscribe kosovo</code>. <code>/latest</code> shows the newest story; "
        "/help lists everything.",
    )


async def help_command(update: Update, context: Context) -> None:
    """List the commands with an example each."""
    app = state(context)
    user = update.effective_user
    operator = app.is_admin(user.id if user else None)
    await reply(context, update, HELP + (ADMIN_HELP + CATALOG_ADMIN_HELP if operator else ""))


async def subscribe(update: Update, context: Context) -> None:
    """Subscribe the chat to a topic, or offer the catalog as buttons."""
    app = state(context)
    if not await may_manage(update, context):
        await reply(context, update, MANAGE_REFUSAL)
        return
    raw = command_text(update)
    if not raw:
        await topic_ui.send_catalog(update, context)
        return
    choice = await _topic_argument(update, context, raw, usage=SUBSCRIBE_USAGE)
    if choice is None:
        return
    query = choice.query
    active = await _known_chat(app, update)
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None and message is not None
    thread_id = topic_ui.thread_of(message)
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
        await reply(context, update, topic_ui.limit_text())
        return
    name = f"<b>{esc(choice.label)}</b>"
    if outcome.created:
        text = f"✅ Subscribed to {name}. I'll send an alert when a new story matches."
    else:
        text = f"You're already subscribed to {name}."
    await reply(context, update, text + ("" if active else PAUSED_NOTE))


async def unsubscribe(update: Update, context: Context) -> None:
    """Remove one of the chat's topics."""
    app = state(context)
    if not await may_manage(update, context):
        await reply(context, update, MANAGE_REFUSAL)
        return
    raw = command_text(update)
    if not raw:
        await reply(context, update, f"Tell me which topic to drop. {UNSUBSCRIBE_USAGE}")
        return
    choice = await _topic_argument(update, context, raw, usage=UNSUBSCRIBE_USAGE)
    if choice is None:
        return
    chat = update.effective_chat
    assert chat is not None
    # A catalog name wins, but a chat may follow the same word as its own query.
    canonicals = [choice.query.canonical]
    if choice.name is not None:
        with contextlib.suppress(QueryError):
            canonicals.append(parse_query(raw).canonical)

    def work(s: Session) -> bool:
        return any(
            repo.unsubscribe(session=s, chat_id=chat.id, canonical=c) is not None
            for c in dict.fromkeys(canonicals)
        )

    if await app.db(work):
        await reply(context, update, f"Unsubscribed from <b>{esc(choice.label)}</b>.")
    else:
        await reply(
            context,
            update,
            f"This chat isn't subscribed to <b>{esc(choice.label)}</b>. "
            "/topics lists the topics it follows.",
        )


async def topics(update: Update, context: Context) -> None:
    """List the chat's topics, each with a button that drops it."""
    await topic_ui.send_topics(update, context)


async def testtopic(update: Update, context: Context) -> None:
    """Show which of the newest stored stories a topic would match."""
    app = state(context)
    raw = command_text(update)
    if not raw:
        await reply(context, update, f"Tell me which topic to try. {TESTTOPIC_USAGE}")
        return
    choice = await _topic_argument(update, context, raw, usage=TESTTOPIC_USAGE)
    if choice is None:
        return
    result = await app.db(lambda s: try_topic(session=s, query=choice.query))
    await reply(context, update, topic_test_text(result, choice.label))


async def latest(update: Update, context: Context) -> None:
    """Show the newest stored story, or the newest ones matching a topic."""
    app = state(context)
    try:
        request = parse_latest(command_text(update), await _catalog(app))
    except QueryError as err:
        await reply(
            context, update, f"{esc(str(err))}\nUsage: /latest [TOPIC] [N], e.g. /latest nato 3"
        )
        return
    alerts = await app.db(lambda s: find_latest(session=s, request=request))
    if not alerts:
        if request.query is None:
            await reply(
                context, update, "No stories yet — I'll have some after the next feed check."
            )
        else:
            label = esc(request.label)
            await reply(
                context,
                update,
                f"No stored story matches <b>{label}</b> yet. "
                f"<code>/subscribe {label}</code> to get the next one.",
            )
        return
    for alert in alerts:
        await reply(context, update, render_alert(alert))


async def addtopic(update: Update, context: Context) -> None:
    """Operators: add a named topic to the catalog, or change the query of one."""
    app = state(context)
    user = update.effective_user
    if not app.is_admin(user.id if user else None):
        await reply(context, update, OPERATORS_ONLY)
        return
    name, _, query = command_text(update).replace("\n", " ").partition(" ")
    if not name or not query.strip():
        await reply(context, update, ADDTOPIC_USAGE)
        return
    try:
        entry = make_entry(name, query)
    except CatalogError as err:
        await reply(context, update, f"{esc(str(err))}\n{ADDTOPIC_USAGE}")
        return

    def work(s: Session) -> topics_db.CatalogSave:
        current = {row.key: row for row in topics_db.catalog_topics(session=s)}
        if entry.key not in current and len(current) >= MAX_CATALOG_TOPICS:
            raise CatalogError(
                f"The list already holds {MAX_CATALOG_TOPICS} topics, the most I show as "
                "buttons. Remove one first."
            )
        # A new query keeps the name as first spelled; remove and add again to rename.
        row = current.get(entry.key)
        named = replace(entry, name=row.name) if row is not None else entry
        return topics_db.save_catalog_topic(session=s, entry=named)

    try:
        saved = await app.db(work)
    except CatalogError as err:
        await reply(context, update, esc(str(err)))
        return
    shown = f"<b>{esc(saved.topic.name)}</b> = <code>{esc(entry.query.display)}</code>"
    if saved.created:
        await reply(context, update, f"Added {shown} to the topic list.")
    else:
        moved = f" {saved.moved} chat(s) now follow the new query." if saved.moved else ""
        await reply(context, update, f"Updated {shown}.{moved}")


async def removetopic(update: Update, context: Context) -> None:
    """Operators: take a named topic out of the catalog."""
    app = state(context)
    user = update.effective_user
    if not app.is_admin(user.id if user else None):
        await reply(context, update, OPERATORS_ONLY)
        return
    name = command_text(update)
    if not name:
        await reply(context, update, REMOVETOPIC_USAGE)
        return
    removed = await app.db(lambda s: topics_db.remove_catalog_topic(session=s, name=name))
    if removed is None:
        await reply(
            context,
            update,
            f"The topic list has no <b>{esc(topic_ui.shorten(name, 40))}</b>. "
            "/subscribe shows the list.",
        )
        return
    await reply(
        context,
        update,
        f"Removed <b>{esc(removed.name)}</b> from the topic list. Chats that follow it keep "
        f"its query, <code>{esc(removed.query)}</code>.",
    )


async def other_text(update: Update, context: Context) -> None:
    """Point people who write plain text in a private chat to /help."""
    await reply(context, update, "I understand commands only. /help lists them.")


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command the bot doesn't have."""
    await reply(context, update, "I don't know that command. /help lists the ones I have.")
