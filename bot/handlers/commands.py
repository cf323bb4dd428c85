"""Chat commands anyone may send: /start, /help, /latest, /testtopic, and the fallbacks."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import NetworkError

from bot.delivery.render import Alert, esc, render_alert
from bot.handlers.context import (
    Context,
    chat_info,
    chat_translator,
    command_text,
    known_translator,
    reply,
    sender_is_admin,
)
from bot.handlers.topics import shorten
from bot.i18n import ENGLISH, N_, Translator, negotiate, translator
from bot.services.stories import Story, TopicTest
from bot.topics import QueryError

log = logging.getLogger(__name__)

HEADLINE_CHARS = 100

HELP = N_(
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
    "/settings — instant alerts or a digest, quiet hours, time zone, link previews\n"
    "/digest <i>times</i> — a digest instead of alerts, e.g. <code>/digest 08:00 18:00</code>; "
    "<code>/digest off</code> for alerts\n"
    "/quiet <i>from-to</i> — quiet hours, e.g. <code>/quiet 22:00-07:00</code>, "
    "<code>/quiet off</code>; <code>/quiet silent</code> or <code>/quiet hold</code>\n"
    "/timezone <i>zone</i> — e.g. <code>/timezone Europe/Berlin</code> or "
    "<code>/timezone Tokyo</code>\n"
    "/previews <i>on|off</i> — link previews in alerts\n"
    "/language — the language I answer in, e.g. <code>/language de</code>\n"
    "/help — this message\n\n"
    "<b>Topics</b>: words must all appear (<code>nato russia</code>); "
    '<code>"quoted phrases"</code>; <code>OR</code> between alternatives '
    "(<code>kosovo OR serbia</code>); <code>-word</code> excludes. A name from the list "
    '(<code>sports</code>) means that topic; quote it (<code>"sports"</code>) for the word.\n'
    "In groups and channels, only administrators can change the topics."
)
ADMIN_HELP = N_(
    "\n\n<b>Operators</b>\n/broadcast <i>text</i> — message every chat, after a preview"
    "\n/feeds [<i>page</i>] — the feeds with their health · /addfeed <i>URL</i> · "
    "/removefeed <i>URL or number</i> · /exportfeeds · /importfeeds (caption of, or reply to, "
    "an .opml file)"
)
CATALOG_ADMIN_HELP = N_(
    "\n/addtopic <i>NAME QUERY</i> · /removetopic <i>NAME</i> — the topic list /subscribe shows"
)

TESTTOPIC_USAGE = N_("Usage: /testtopic TOPIC, for example <code>/testtopic nato OR kosovo</code>")
LATEST_USAGE = N_("Usage: /latest [TOPIC] [N], e.g. /latest nato 3")
WELCOME = N_(
    "👋 <b>Welcome!</b> I send breaking news alerts: a headline, a two-sentence summary "
    "and a link, as soon as a story matches a topic you follow.\n\n"
    "Send /subscribe to pick topics from a list, or follow any words: "
    "<code>/subscribe kosovo</code>. <code>/latest</code> shows the newest story; "
    "/help lists everything."
)
APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a minute.")


def alert_of(story: Story) -> Alert:
    """Return a stored story as the alert chats receive."""
    return Alert(
        title=story.title,
        summary=story.summary,
        link=story.link,
        source=story.source if story.sources < 2 else f"{story.source} · {story.sources} sources",
        published=story.published,
    )


def topic_test_text(test: TopicTest, t: Translator = ENGLISH) -> str:
    """Return /testtopic's answer: a count and the headlines, ✅ where the topic matches."""
    label = test.label
    name = f"<b>{esc(label)}</b>"
    total = len(test.headlines)
    if not total:
        return t.gettext("No stories are stored yet — try again after the next feed check.")
    counts = test.sources or (1,) * total
    lines = [
        f"{'✅' if hit else '—'} {esc(shorten(title, HEADLINE_CHARS))}"
        + (t.ngettext(" ({n} source)", " ({n} sources)", n).format(n=n) if n > 1 else "")
        for (title, hit), n in zip(test.headlines, counts, strict=True)
    ]
    head = t.ngettext(
        "🔎 {name} matches {matched} of the {total} newest story:",
        "🔎 {name} matches {matched} of the {total} newest stories:",
        total,
    ).format(name=name, matched=test.matched, total=total)
    tail = "\n\n" + (
        t.gettext("Follow it with <code>/subscribe {label}</code>.").format(label=esc(label))
        if test.matched
        else t.gettext("None match: try fewer words, OR between alternatives, or a shorter phrase.")
    )
    return head + "\n" + "\n".join(lines) + tail


async def start(update: Update, context: Context) -> None:
    """Register the chat (or bring it back) and say what the bot does."""
    chat = update.effective_chat
    if chat is None:
        return
    user = update.effective_user
    language = negotiate(user.language_code) if user is not None else None
    stored = await context.services.chats.start(chat_info(chat), language=language)
    context.bot_data.languages.put(chat.id, stored)
    await reply(context, update, translator(stored).gettext(WELCOME))


async def help_command(update: Update, context: Context) -> None:
    """List the commands with an example each."""
    t = await chat_translator(update, context)
    operator = sender_is_admin(update, context)
    extra = t.gettext(ADMIN_HELP) + t.gettext(CATALOG_ADMIN_HELP) if operator else ""
    await reply(context, update, t.gettext(HELP) + extra)


async def testtopic(update: Update, context: Context) -> None:
    """Show which of the newest stored stories a topic would match."""
    t = await chat_translator(update, context)
    raw = command_text(update)
    if not raw:
        ask = t.gettext("Tell me which topic to try.")
        await reply(context, update, f"{ask} {t.gettext(TESTTOPIC_USAGE)}")
        return
    try:
        result = await context.services.stories.test_topic(raw)
    except QueryError as err:
        await reply(context, update, f"{esc(err.translated(t))}\n{t.gettext(TESTTOPIC_USAGE)}")
        return
    await reply(context, update, topic_test_text(result, t))


async def latest(update: Update, context: Context) -> None:
    """Show the newest stored story, or the newest ones matching a topic."""
    t = await chat_translator(update, context)
    try:
        found = await context.services.stories.latest(command_text(update))
    except QueryError as err:
        await reply(context, update, f"{esc(err.translated(t))}\n{t.gettext(LATEST_USAGE)}")
        return
    if not found.stories:
        if found.request.query is None:
            await reply(
                context,
                update,
                t.gettext("No stories yet — I'll have some after the next feed check."),
            )
        else:
            label = esc(found.request.label)
            await reply(
                context,
                update,
                t.gettext(
                    "No stored story matches <b>{label}</b> yet. "
                    "<code>/subscribe {label}</code> to get the next one."
                ).format(label=label),
            )
        return
    for story in found.stories:
        await reply(context, update, render_alert(alert_of(story), t))


async def other_text(update: Update, context: Context) -> None:
    """Point people who write plain text in a private chat to /help."""
    t = await chat_translator(update, context)
    await reply(context, update, t.gettext("I understand commands only. /help lists them."))


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command the bot doesn't have."""
    t = await chat_translator(update, context)
    await reply(
        context, update, t.gettext("I don't know that command. /help lists the ones I have.")
    )


async def on_error(update: object, context: Context) -> None:
    """Log the failure (never the user's text) and apologise in the chat."""
    err = context.error
    if update is None and isinstance(err, NetworkError):
        # Fetching updates failed (the Bot API is unreachable); PTB retries on its own.
        log.warning("could not fetch updates: %s", err.message)
        return
    log.error("handler failed: %s", type(err).__name__, exc_info=err)
    the_door = context.bot_data.door
    if isinstance(update, Update) and update.effective_message is not None and the_door:
        # No database read here: the failure may be the database's.
        t = known_translator(update, context)
        the_door.reply(update.effective_message, t.gettext(APOLOGY), parse_mode=None)
