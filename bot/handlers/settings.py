"""How and when news reaches a chat: /settings (buttons), /digest, /quiet, /timezone, /previews."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time

from babel.dates import format_skeleton
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.delivery.render import esc
from bot.digests.times import (
    DIGEST,
    HOLD,
    INSTANT,
    SILENT,
    Preferences,
    TimeError,
    format_time,
    format_times,
    next_release,
    parse_range,
    parse_times,
)
from bot.digests.zones import ZoneError, resolve_zone, zone
from bot.handlers.context import (
    Context,
    chat_info,
    chat_language,
    chat_translator,
    command_text,
    reply,
)
from bot.handlers.guard import may_manage
from bot.handlers.topics import OUT_OF_DATE
from bot.i18n import (
    DEFAULT,
    ENGLISH,
    FLAGS,
    N_,
    NAMES,
    SUPPORTED,
    Translator,
    parse_language,
    translator,
)

Edit = Callable[[Preferences], Preferences]

SETTINGS_DATA = "st:"
# A language button's data after SETTINGS_DATA: the language is the chat's, not a preference.
LANG = "lang:"
# Offered as buttons; any other time or zone can be typed (/digest, /timezone).
DIGEST_CHOICES = (time(7), time(8), time(12), time(18), time(21))
QUIET_CHOICES = ((time(22), time(7)), (time(23), time(8)))
ZONE_CHOICES = (
    ("UTC", "UTC"),
    (N_("London"), "Europe/London"),
    (N_("Berlin"), "Europe/Berlin"),
    (N_("Moscow"), "Europe/Moscow"),
    (N_("New York"), "America/New_York"),
    (N_("Los Angeles"), "America/Los_Angeles"),
    (N_("Tokyo"), "Asia/Tokyo"),
)

SETTINGS_REFUSAL = N_("Only this chat's administrators can change its settings.")
DIGEST_USAGE = N_(
    "Usage: <code>/digest 08:00 18:00</code> for a digest at those times instead of alerts, "
    "<code>/digest off</code> for instant alerts."
)
QUIET_USAGE = N_(
    "Usage: <code>/quiet 22:00-07:00</code>, <code>/quiet off</code>; "
    "<code>/quiet hold</code> keeps alerts for a digest when the quiet hours end, "
    "<code>/quiet silent</code> sends them without a sound."
)
TIMEZONE_USAGE = N_(
    "Usage: <code>/timezone Europe/Berlin</code> (an IANA name) or a big city, "
    "e.g. <code>/timezone New York</code>."
)
PREVIEWS_USAGE = N_("Usage: <code>/previews on</code> or <code>/previews off</code>.")
LAST_TIME = N_("A digest needs at least one time. Tap Instant to get alerts instead.")
SAY_ON_OR_OFF = N_("Say on or off.")
NOTHING_CHANGED = N_("Nothing was changed.")
SAVED = N_("✅ Saved.")
ON = N_("on")
OFF = N_("off")
COMMANDS_LINE = N_(
    "Type instead: /digest <i>times</i> · /quiet <i>22:00-07:00</i> · "
    "/timezone <i>city</i> · /previews <i>on|off</i>"
)


# --- what chats see -------------------------------------------------------------------------


def _on_off(value: bool, t: Translator) -> str:
    return t.gettext(ON if value else OFF)


def delivery_line(prefs: Preferences, t: Translator = ENGLISH) -> str:
    """Return how news reaches the chat, e.g. 'a digest at 08:00, 18:00'."""
    if prefs.mode == DIGEST:
        return t.gettext("a digest at {times}").format(times=format_times(prefs.digest_times))
    return t.gettext("instant alerts")


def quiet_line(prefs: Preferences, t: Translator = ENGLISH) -> str:
    """Return the quiet hours, e.g. '22:00–07:00, alerts held for a digest'."""
    if prefs.quiet is None:
        return t.gettext(OFF)
    start, end = prefs.quiet
    if prefs.quiet_mode == HOLD:
        how = t.gettext("alerts held for a digest")
    else:
        how = t.gettext("alerts sent silently")
    return f"{format_time(start)}–{format_time(end)}, {how}"


def _when(moment: datetime, t: Translator) -> str:
    """Return a local moment as 'Mon 07 Dec, 08:00' in the translator's language
    ('Mo., 7. Dez., 08:00')."""
    lang = t.info().get("language", DEFAULT)
    if lang == DEFAULT:
        return f"{moment:%a %d %b, %H:%M}"
    day = format_skeleton("MMMEd", moment, tzinfo=moment.tzinfo, locale=lang)
    return f"{day}, {moment:%H:%M}"


def settings_text(
    prefs: Preferences, now: datetime, t: Translator = ENGLISH, language: str | None = None
) -> str:
    """Return the /settings message: every preference, and when the next digest comes."""
    local = now.astimezone(zone(prefs.timezone))
    lines = [
        t.gettext("<b>⚙️ Settings for this chat</b>"),
        t.gettext("News: <b>{delivery}</b>").format(delivery=esc(delivery_line(prefs, t))),
        t.gettext("Quiet hours: <b>{quiet}</b>").format(quiet=esc(quiet_line(prefs, t))),
        t.gettext("Time zone: <b>{zone}</b> (it is {time} there now)").format(
            zone=esc(prefs.timezone), time=f"{local:%H:%M}"
        ),
        t.gettext("Link previews: <b>{previews}</b>").format(
            previews=esc(_on_off(prefs.previews, t))
        ),
    ]
    if language in NAMES:
        lines.append(t.gettext("Language: <b>{language}</b>").format(language=NAMES[language]))
    due = next_release(prefs, now, held=False)
    if due is not None:
        when = _when(due.astimezone(zone(prefs.timezone)), t)
        lines.append(t.gettext("Next digest: {when}").format(when=esc(when)))
    return "\n".join(lines) + "\n\n" + t.gettext(COMMANDS_LINE)


def _mark(label: str, on: bool) -> str:
    return f"✅ {label}" if on else label


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=SETTINGS_DATA + data)


def settings_keyboard(
    prefs: Preferences, t: Translator = ENGLISH, language: str | None = None
) -> InlineKeyboardMarkup:
    """Return the /settings buttons, ✅ on the current choices."""
    digest = prefs.mode == DIGEST
    if prefs.previews:
        previews = t.gettext("Link previews: on ✅")
    else:
        previews = t.gettext("Link previews: off")
    rows = [
        [
            _button(_mark(t.gettext("Instant alerts"), not digest), "mode:instant"),
            _button(_mark(t.gettext("Digest"), digest), "mode:digest"),
        ],
        [
            _button(_mark(format_time(v), digest and v in prefs.digest_times), f"dt:{v:%H%M}")
            for v in DIGEST_CHOICES
        ],
        [
            _button(_mark(t.gettext("No quiet hours"), prefs.quiet is None), "q:off"),
            *(
                _button(
                    _mark(f"{format_time(s)}–{format_time(e)}", prefs.quiet == (s, e)),
                    f"q:{s:%H%M}-{e:%H%M}",
                )
                for s, e in QUIET_CHOICES
            ),
        ],
        [
            _button(
                _mark(t.gettext("Quiet: hold for digest"), prefs.quiet_mode == HOLD), "qm:hold"
            ),
            _button(
                _mark(t.gettext("Quiet: send silently"), prefs.quiet_mode == SILENT), "qm:silent"
            ),
        ],
        [
            _button(_mark(_zone_label(label, t), prefs.timezone == name), f"tz:{name}")
            for label, name in ZONE_CHOICES[:4]
        ],
        [
            _button(_mark(_zone_label(label, t), prefs.timezone == name), f"tz:{name}")
            for label, name in ZONE_CHOICES[4:]
        ],
        [_button(previews, "pv:off" if prefs.previews else "pv:on")],
    ]
    if language is not None:
        languages = [
            _button(_mark(f"{FLAGS[code]} {NAMES[code]}", code == language), f"{LANG}{code}")
            for code in SUPPORTED
        ]
        rows += [languages[i : i + 2] for i in range(0, len(languages), 2)]
    return InlineKeyboardMarkup(rows)


def _zone_label(label: str, t: Translator) -> str:
    return label if label == "UTC" else t.gettext(label)


# --- what buttons and commands change (pure) ------------------------------------------------


def _toggle_time(value: time) -> Edit:
    def edit(prefs: Preferences) -> Preferences:
        current = prefs.digest_times if prefs.mode == DIGEST else ()
        if value in current:
            if len(current) == 1:
                raise TimeError(LAST_TIME)
            return replace(prefs, digest_times=tuple(t for t in current if t != value))
        return prefs.with_digest((*current, value))

    return edit


def button_edit(data: str) -> Edit | None:
    """Return the change a /settings button asks for, or None when its data is not one."""
    kind, _, value = data.removeprefix(SETTINGS_DATA).partition(":")
    try:
        if kind == "mode" and value == INSTANT:
            return lambda p: replace(p, mode=INSTANT)
        if kind == "mode" and value == DIGEST:
            return lambda p: p.with_digest(())
        if kind == "dt" and len(value) == 4 and value.isdigit():
            return _toggle_time(parse_times(f"{value[:2]}:{value[2:]}")[0])
        if kind == "q" and value == "off":
            return lambda p: replace(p, quiet=None)
        if kind == "q" and len(value) == 9 and value[4] == "-":
            start, end = parse_range(f"{value[:2]}:{value[2:4]}-{value[5:7]}:{value[7:]}")
            return lambda p: replace(p, quiet=(start, end))
        if kind == "qm" and value in (HOLD, SILENT):
            return lambda p: replace(p, quiet_mode=value)
        if kind == "tz" and value:
            name = resolve_zone(value)
            return lambda p: replace(p, timezone=name)
        if kind == "pv" and value in ("on", "off"):
            return lambda p: replace(p, previews=value == "on")
    except (TimeError, ZoneError):
        return None
    return None


def digest_edit(args: str) -> Edit:
    """Return the change `/digest ARGS` asks for; raise TimeError when ARGS is not one."""
    word = args.strip().lower()
    if word in ("off", "instant", "stop"):
        return lambda p: replace(p, mode=INSTANT)
    if word == "on":
        return lambda p: p.with_digest(())
    times = parse_times(args)
    return lambda p: p.with_digest(times)


def quiet_edit(args: str) -> Edit:
    """Return the change `/quiet ARGS` asks for; raise TimeError when ARGS is not one."""
    words = args.split()
    how = words[-1].lower() if words and words[-1].lower() in (HOLD, SILENT) else None
    rest = " ".join(words[:-1] if how else words)
    if rest.lower() == "off":
        return lambda p: replace(p, quiet=None)
    quiet = parse_range(rest) if rest else None

    def edit(prefs: Preferences) -> Preferences:
        changed = replace(prefs, quiet_mode=how) if how else prefs
        return replace(changed, quiet=quiet) if quiet else changed

    return edit


def previews_edit(args: str) -> Edit:
    """Return the change `/previews ARGS` asks for; raise TimeError when ARGS is not on/off."""
    word = args.strip().lower()
    if word not in ("on", "off"):
        raise TimeError(SAY_ON_OR_OFF)
    return lambda p: replace(p, previews=word == "on")


def saved_text(prefs: Preferences, t: Translator = ENGLISH) -> str:
    """Return the answer to a change: what the chat gets now."""
    return (
        t.gettext(SAVED)
        + " "
        + t.gettext(
            "News: <b>{delivery}</b> · quiet hours: <b>{quiet}</b> · time zone <b>{zone}</b> · "
            "link previews <b>{previews}</b>. /settings shows all."
        ).format(**_shown(prefs, t))
    )


# --- commands and buttons -------------------------------------------------------------------


async def settings(update: Update, context: Context) -> None:
    """Show the chat's preferences with buttons that change them."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    current = await chat_language(update, context)
    t = translator(current)
    prefs = await context.services.preferences.get(chat.id)
    now = datetime.now(UTC)
    context.door.reply(
        message,
        settings_text(prefs, now, t, current),
        reply_markup=settings_keyboard(prefs, t, current),
        link_preview=False,
    )


async def _command(
    update: Update, context: Context, parse: Callable[[str], Edit], usage: str, shown: str
) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    t = await chat_translator(update, context)
    args = command_text(update)
    if not args:
        prefs = await context.services.preferences.get(chat.id)
        text = t.gettext(shown).format(**_shown(prefs, t))
        await reply(context, update, f"{text}\n{t.gettext(usage)}")
        return
    if not await may_manage(update, context):
        await reply(context, update, t.gettext(SETTINGS_REFUSAL))
        return
    try:
        edit = parse(args)
        prefs = await context.services.preferences.change(chat_info(chat), edit)
    except (TimeError, ZoneError) as err:
        why = f"{esc(err.translated(t))} {t.gettext(NOTHING_CHANGED)}"
        await reply(context, update, f"{why}\n{t.gettext(usage)}")
        return
    await reply(context, update, saved_text(prefs, t))


def _shown(prefs: Preferences, t: Translator) -> dict[str, str]:
    return {
        "delivery": esc(delivery_line(prefs, t)),
        "quiet": esc(quiet_line(prefs, t)),
        "zone": esc(prefs.timezone),
        "previews": esc(_on_off(prefs.previews, t)),
    }


def _zone_edit(args: str) -> Edit:
    name = resolve_zone(args)
    return lambda p: replace(p, timezone=name)


async def digest(update: Update, context: Context) -> None:
    """Switch the chat to digests at the given times, or back to instant alerts."""
    shown = N_("This chat gets <b>{delivery}</b>.")
    await _command(update, context, digest_edit, DIGEST_USAGE, shown)


async def quiet(update: Update, context: Context) -> None:
    """Set the chat's quiet hours, or what happens to alerts during them."""
    await _command(update, context, quiet_edit, QUIET_USAGE, N_("Quiet hours: <b>{quiet}</b>."))


async def timezone(update: Update, context: Context) -> None:
    """Set the time zone the chat's digest times and quiet hours follow."""
    await _command(update, context, _zone_edit, TIMEZONE_USAGE, N_("Time zone: <b>{zone}</b>."))


async def previews(update: Update, context: Context) -> None:
    """Turn link previews in the chat's alerts on or off."""
    shown = N_("Link previews: {previews}.")
    await _command(update, context, previews_edit, PREVIEWS_USAGE, shown)


async def settings_button(update: Update, context: Context) -> None:
    """Apply a /settings button, then show the new settings on the same message."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    t = await chat_translator(update, context)
    message = query.message
    if query.data.startswith(SETTINGS_DATA + LANG):
        await _language_button(update, context, query.data)
        return
    edit = button_edit(query.data)
    if edit is None or not isinstance(message, Message):
        context.door.answer(query, t.gettext(OUT_OF_DATE))
        return
    if not await may_manage(update, context):
        context.door.answer(query, t.gettext(SETTINGS_REFUSAL), show_alert=True)
        return
    chat = message.chat
    before = await context.services.preferences.get(chat.id)
    try:
        prefs = await context.services.preferences.change(chat_info(chat), edit)
    except TimeError as err:
        context.door.answer(query, err.translated(t), show_alert=True)
        return
    context.door.answer(query, t.gettext(SAVED) if prefs != before else None)
    if prefs != before:
        now = datetime.now(UTC)
        current = await chat_language(update, context)
        context.door.edit_text(
            chat.id,
            message.message_id,
            settings_text(prefs, now, t, current),
            reply_markup=settings_keyboard(prefs, t, current),
        )


async def _language_button(update: Update, context: Context, data: str) -> None:
    """Switch the chat's language from /settings and show the settings in it."""
    query = update.callback_query
    assert query is not None
    message = query.message
    code = parse_language(data.removeprefix(SETTINGS_DATA + LANG))
    if code is None or not isinstance(message, Message):
        context.door.answer(query, (await chat_translator(update, context)).gettext(OUT_OF_DATE))
        return
    if not await may_manage(update, context):
        t = await chat_translator(update, context)
        context.door.answer(query, t.gettext(SETTINGS_REFUSAL), show_alert=True)
        return
    chat = message.chat
    before = await chat_language(update, context)
    await context.services.chats.set_language(chat_info(chat), code)
    context.bot_data.languages.put(chat.id, code)
    t = translator(code)
    context.door.answer(query, t.gettext(SAVED) if code != before else None)
    if code != before:
        prefs = await context.services.preferences.get(chat.id)
        context.door.edit_text(
            chat.id,
            message.message_id,
            settings_text(prefs, datetime.now(UTC), t, code),
            reply_markup=settings_keyboard(prefs, t, code),
        )
