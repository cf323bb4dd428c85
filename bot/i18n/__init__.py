"""The bot's languages: gettext catalogs (bot/locale/<lang>/LC_MESSAGES/newsbot.po).

Using it takes two steps:

    from bot.i18n import N_, translator

    GREETING = N_("Hello, <b>{name}</b>!")        # a constant: marked here, translated at use

    t = translator("de")                          # or, in a handler: await chat_translator(...)
    t.gettext(GREETING).format(name=esc(name))
    t.ngettext("{n} topic", "{n} topics", n).format(n=n)

Write placeholders as `{name}` and fill them with `.format()` after translating, never
f-strings inside `gettext(...)`: the catalog holds the text with its placeholders. Keep HTML
tags in the msgid; translators keep them as they are.

Handlers get the chat's translator with `await chat_translator(update, context)` (from
bot.handlers.context; the chat's language is read once and remembered for a minute); jobs
with only a chat id use `translator(await stored_language(context, chat_id))`. Pure
functions that build texts take `t: Translator = ENGLISH` as their last parameter, so callers
that pass nothing get English.

The .po files are read at run time (and compiled in memory once per language), so no
compiled .mo files ship. A new text fails tests/test_i18n.py until every catalog translates
it: README "Translating" lists the pybabel commands that extract and update the catalogs.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

Translator = gettext.NullTranslations
# The texts as written: what pure functions use when no chat's translator is given.
ENGLISH: Translator = gettext.NullTranslations()

DOMAIN = "newsbot"
DEFAULT = "en"
SUPPORTED: tuple[str, ...] = ("en", "de", "es", "ru")
# What the /language buttons show: each language in its own words.
NAMES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "es": "Español",
    "ru": "Русский",
}
FLAGS: dict[str, str] = {"en": "🇬🇧", "de": "🇩🇪", "es": "🇪🇸", "ru": "🇷🇺"}


def N_(message: str) -> str:
    """Mark a constant for translation; translate it where it is used."""
    return message


class Explained(ValueError):
    """Bad input whose message is made of texts marked for translation (N_).

    `values` fill their {placeholders}. ``str(error)`` says it in English,
    `translated(t)` in a chat's language.
    """

    def __init__(self, *parts: str, **values: object) -> None:
        self.parts = parts
        self.values = values
        super().__init__("".join(parts).format(**values))

    def translated(self, t: Translator = ENGLISH) -> str:
        """Return the message in the translator's language."""
        return "".join(t.gettext(part) for part in self.parts).format(**self.values)


def negotiate(code: str | None) -> str:
    """Return the supported language for a Telegram language code ("de-AT" → "de").

    Unknown, empty or missing codes give English.
    """
    if not code:
        return DEFAULT
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else DEFAULT


def parse_language(text: str) -> str | None:
    """Return the language a chat asked for ("de", "DE", "Deutsch"), or None if unsupported."""
    wanted = text.strip().casefold()
    for code in SUPPORTED:
        if wanted in (code, NAMES[code].casefold()):
            return code
    return None


def catalog_path(lang: str) -> Traversable:
    """Return where the language's .po file ships inside the package."""
    return files("bot").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")


def translator(lang: str | None) -> Translator:
    """Return the translator for a language (English for None or an unsupported one).

    The .po file is compiled in memory on first use and kept for the process's life.
    """
    return _load(lang if lang in SUPPORTED else DEFAULT)


@cache
def _load(lang: str) -> Translator:
    if lang == DEFAULT:
        return ENGLISH
    with catalog_path(lang).open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
