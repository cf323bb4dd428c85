"""Languages: negotiation, the translator, and catalogs that match the code.

Every text the code marks (gettext, ngettext, N_) must be in every catalog, translated, not
fuzzy, with the same placeholders and HTML tags as the English text: a broken translation
fails here rather than in a chat.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.delivery.render import Alert, render_alert
from bot.i18n import (
    DEFAULT,
    ENGLISH,
    NAMES,
    SUPPORTED,
    catalog_path,
    negotiate,
    parse_language,
    translator,
)
from bot.topics import QueryError, parse_query

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None, "_": None}
TRANSLATED = [lang for lang in SUPPORTED if lang != DEFAULT]

_BRACE = re.compile(r"\{[^{}]*\}")
_PERCENT = re.compile(r"%(?:\([A-Za-z_]\w*\))?[#0 +-]?\d*(?:\.\d+)?[sdifrxXeEgGc%]")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def placeholders(text: str) -> Counter[str]:
    """Return what must survive translation: {name}, %s, and HTML tags."""
    return Counter(_BRACE.findall(text) + _PERCENT.findall(text) + _TAG.findall(text))


def code_messages() -> dict[str, tuple[str, ...]]:
    """Return every marked text in bot/ (msgid → its forms), as pybabel extract finds them."""
    found: dict[str, tuple[str, ...]] = {}
    method_map = [("**.py", "python")]
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map, keywords=KEYWORDS
    ):
        forms = (message,) if isinstance(message, str) else tuple(message)
        if forms[0]:
            found[forms[0]] = forms
    return found


def load(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as source:
        return read_po(source, locale=lang)


# --- negotiation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("DE-ch", "de"),
        ("es_MX", "es"),
        ("ru", "ru"),
        ("en-GB", "en"),
        ("pt-BR", "en"),
        ("", "en"),
        (None, "en"),
        ("x", "en"),
        ("-", "en"),
    ],
)
def test_negotiate_maps_telegram_codes_to_supported_languages(
    code: str | None, expected: str
) -> None:
    assert negotiate(code) == expected


def test_parse_language_accepts_codes_and_names_only() -> None:
    assert parse_language("de") == "de"
    assert parse_language(" ES ") == "es"
    assert parse_language("Русский") == "ru"
    assert parse_language("deutsch") == "de"
    for bad in ("xx", "", "de-AT", "german", "en es"):
        assert parse_language(bad) is None
    assert set(NAMES) == set(SUPPORTED)


def test_translator_is_cached_and_falls_back_to_english() -> None:
    assert translator("de") is translator("de")
    assert translator(None) is ENGLISH
    assert translator("xx") is ENGLISH
    assert translator("en").gettext("Read the full story") == "Read the full story"
    assert translator("de").gettext("Read the full story") == "Ganze Meldung lesen"
    assert translator("de").gettext("a text no catalog has") == "a text no catalog has"


def test_plural_forms_follow_each_language() -> None:
    ru = translator("ru")
    forms = [ru.ngettext("{n} chat", "{n} chats", n).format(n=n) for n in (1, 2, 5, 21)]
    assert forms == ["1 чат", "2 чата", "5 чатов", "21 чат"]
    de = translator("de")
    assert de.ngettext("{n} chat", "{n} chats", 1).format(n=1) == "1 Chat"
    assert de.ngettext("{n} chat", "{n} chats", 3).format(n=3) == "3 Chats"


def test_alert_framing_is_translated_but_the_story_is_not() -> None:
    alert = Alert(
        title="Harbour reopens",
        summary="Ships are back.",
        link="https://example.org/a",
        source="Wire",
        published=None,
    )
    german = render_alert(alert, translator("de"))
    assert "Ganze Meldung lesen" in german and "Harbour reopens" in german
    assert "Read the full story" in render_alert(alert)
    untitled = render_alert(Alert("", "x", None, "", None), translator("ru"))
    assert "(без заголовка)" in untitled


# --- catalogs --------------------------------------------------------------------------------


def test_placeholder_check_catches_broken_translations() -> None:
    assert placeholders("Hi <b>{name}</b>, %s") == placeholders("%s, <b>{name}</b> hallo")
    assert placeholders("Hi <b>{name}</b>") != placeholders("Hallo <b>{nom}</b>")
    assert placeholders("Hi <b>{name}</b>") != placeholders("Hallo <b>{name}")
    assert placeholders("<code>/x</code>") != placeholders("<code>/x</kode>")


def test_the_code_marks_texts_for_translation() -> None:
    found = code_messages()
    assert "Read the full story" in found
    assert ("{n} chat", "{n} chats") in found.values()
    assert len(found) > 80


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_text_in_the_code_is_translated(lang: str) -> None:
    catalog = load(lang)
    missing, empty, fuzzy = [], [], []
    for msgid, forms in code_messages().items():
        message = catalog.get(msgid)
        if message is None:
            missing.append(msgid)
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if len(forms) == 2 and len(strings) != catalog.num_plurals:
            empty.append(msgid)
        if not all(strings):
            empty.append(msgid)
        if message.fuzzy:
            fuzzy.append(msgid)
    assert missing == [], f"{lang}: run pybabel update (README, Translating)"
    assert empty == [], f"{lang}: untranslated"
    assert fuzzy == [], f"{lang}: fuzzy translations need a look"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogs_hold_no_texts_the_code_lost(lang: str) -> None:
    in_code = code_messages()
    stale = [
        m.id
        for m in load(lang)
        if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in in_code
    ]
    assert stale == [], f"{lang}: run pybabel update (README, Translating)"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_placeholders_and_tags(lang: str) -> None:
    broken = []
    for message in load(lang):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = placeholders(ids[-1])
        for text in strings:
            # Plural forms may spell the number's word differently, never the placeholders.
            if placeholders(text) != expected:
                broken.append((ids[0], text))
    assert broken == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_format_with_the_codes_arguments(lang: str) -> None:
    t = translator(lang)
    for msgid, forms in code_messages().items():
        names = {p.strip("{}") for p in _BRACE.findall(msgid)}
        values = {name: "X" for name in names}
        text = t.gettext(msgid) if len(forms) == 1 else t.ngettext(forms[0], forms[1], 2)
        text.format(**values)


def test_topic_errors_reach_chats_in_their_language() -> None:
    with pytest.raises(QueryError) as empty:
        parse_query("   ")
    assert empty.value.translated(translator("de")).startswith("Das Thema ist leer")
    with pytest.raises(QueryError) as twice:
        parse_query("kosovo or or serbia")
    german = twice.value.translated(translator("de"))
    assert german.startswith("OR steht zweimal") and german.endswith('"or".')
    assert str(twice.value).startswith("OR appears twice")
    with pytest.raises(QueryError) as long:
        parse_query("x" * 5000)
    assert "5000" in long.value.translated(translator("ru"))


def test_alert_times_use_the_languages_month_names() -> None:
    when = datetime(2026, 11, 27, 14, 5, tzinfo=UTC)
    alert = Alert(title="T", summary="S", link=None, source="Wire", published=when)
    assert "Wire · 27 Nov 2026, 14:05 UTC" in render_alert(alert)
    assert "Wire · 27 нояб. 2026, 14:05 UTC" in render_alert(alert, translator("ru"))
    assert "Wire · 27 Nov. 2026, 14:05 UTC" in render_alert(alert, translator("de"))
