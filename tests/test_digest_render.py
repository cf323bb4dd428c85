"""Digest messages and the /settings texts: grouping, order, escaping, Telegram's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.delivery.digest import MAX_STORIES, render_digest
from bot.delivery.render import MAX_MESSAGE_CHARS, utf16_len
from bot.digests.items import DigestItem
from bot.digests.times import DIGEST, INSTANT, SILENT, Preferences, TimeError
from bot.emulator.html import parse_html
from bot.handlers.settings import (
    button_edit,
    digest_edit,
    previews_edit,
    quiet_edit,
    settings_keyboard,
    settings_text,
)
from bot.i18n import translator

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def item(
    n: int, topic: str = "Sports", title: str | None = None, link: str | None = ""
) -> DigestItem:
    return DigestItem(
        topic=topic,
        title=title if title is not None else f"Story number {n}",
        link=f"https://news.example/{n}" if link == "" else link,
        published=NOW - timedelta(minutes=n),
    )


def test_grouped_by_topic_newest_first_with_links() -> None:
    items = [item(3, "World"), item(1, "Sports"), item(2, "World"), item(4, "Sports")]
    html, plain = render_digest(items)
    parsed = parse_html(html)
    lines = parsed.plain.splitlines()
    assert lines == [
        "📰 Your digest: 4 stories",
        "",
        "Sports",
        "• Story number 1",
        "• Story number 4",
        "",
        "World",
        "• Story number 2",
        "• Story number 3",
    ]
    assert list(parsed.links) == [f"https://news.example/{n}" for n in (1, 4, 2, 3)]
    assert "• Story number 1 — https://news.example/1" in plain


def test_everything_from_feeds_is_escaped() -> None:
    nasty = item(1, topic="<b>Topic</b> & co", title='Shares & <bonds> "rally"', link=None)
    odd_link = item(2, title="Link with a quote", link='https://x.example/"><script>')
    html, _ = render_digest([nasty, odd_link, item(3, topic="")])
    parsed = parse_html(html)  # raises on anything unescaped
    assert 'Shares & <bonds> "rally"' in parsed.plain
    assert "<b>Topic</b> & co" in parsed.plain
    assert "Other stories" in parsed.plain  # a story without a topic name
    assert "<script>" not in html


def test_a_long_digest_is_cut_to_the_limit_and_says_how_many_more() -> None:
    # Long headlines with emoji (two UTF-16 units each), far more than fit.
    items = [item(n, topic=f"T{n % 3}", title=f"🚀 {n} " + "word " * 60) for n in range(40)]
    html, plain = render_digest(items)
    parsed = parse_html(html)
    assert utf16_len(parsed.plain) <= MAX_MESSAGE_CHARS
    assert utf16_len(plain) <= MAX_MESSAGE_CHARS
    shown = parsed.plain.count("• ")
    assert 0 < shown < 40
    assert parsed.plain.endswith(f"…and {40 - shown} more: /latest")
    # The stories left out are the oldest ones.
    shown_numbers = {int(line.split()[2]) for line in parsed.plain.splitlines() if "🚀" in line}
    assert shown_numbers == set(range(shown))
    assert plain.endswith("more: /latest")


def test_at_most_48_stories_so_formatting_stays_within_telegram_s_entity_count() -> None:
    html, _ = render_digest([item(n, topic=f"T{n}", title=f"S{n}") for n in range(120)])
    parsed = parse_html(html)
    assert parsed.plain.count("• ") == MAX_STORIES
    assert len(parsed.entities) <= 100
    assert parsed.plain.endswith(f"…and {120 - MAX_STORIES} more: /latest")


def test_a_digest_s_framing_speaks_the_chat_s_language() -> None:
    items = [item(n, topic=f"T{n}", title=f"S{n}") for n in range(120)]
    items.append(item(200, topic="", title=""))
    items.append(item(201, topic="Sports", title="Cup final"))
    _, plain = render_digest(items, translator("de"))
    assert plain.startswith("📰 Deine Übersicht: 122 Meldungen")
    assert plain.endswith(f"…und {122 - MAX_STORIES} weitere: /latest")
    _, plain = render_digest(items[-2:], translator("ru"))
    assert plain.startswith("📰 Ваш дайджест: 2 новости")
    assert "Другие новости\n• (без заголовка)" in plain and "Спорт\n• Cup final" in plain
    _, plain = render_digest(items[-1:], translator("es"))
    assert plain.startswith("📰 Tu boletín: 1 noticia\n\nDeportes\n• Cup final")


def test_settings_in_a_chat_s_language() -> None:
    de = translator("de")
    prefs = Preferences(
        mode=DIGEST, digest_times=(time(8),), quiet=(time(22), time(7)), timezone="Europe/Berlin"
    )
    text = parse_html(settings_text(prefs, NOW, de)).plain
    assert "Nachrichten: eine Übersicht um 08:00" in text
    assert "Ruhezeiten: 22:00–07:00, Benachrichtigungen warten auf die Übersicht" in text
    assert "Zeitzone: Europe/Berlin (dort ist es jetzt 14:00)" in text
    assert "Nächste Übersicht: Di., 2. Juni, 08:00" in text
    shown = [b.text for row in settings_keyboard(prefs, de).inline_keyboard for b in row]
    assert "✅ Übersicht" in shown and "✅ Ruhezeit: für Übersicht aufheben" in shown
    assert "Linkvorschauen: an ✅" in shown and "Moskau" in shown


def test_settings_text_and_buttons() -> None:
    prefs = Preferences(
        mode=DIGEST,
        digest_times=(time(8), time(18)),
        quiet=(time(22), time(7)),
        timezone="Europe/Berlin",
        previews=False,
    )
    text = parse_html(settings_text(prefs, NOW)).plain
    assert "a digest at 08:00, 18:00" in text
    assert "22:00–07:00, alerts held for a digest" in text
    assert "Europe/Berlin (it is 14:00 there now)" in text
    assert "Link previews: off" in text
    assert "Next digest: Mon 01 Jun, 18:00" in text
    keyboard = settings_keyboard(prefs)
    labels = [b.text for row in keyboard.inline_keyboard for b in row]
    assert "✅ Digest" in labels and "✅ 08:00" in labels and "✅ Berlin" in labels
    assert "✅ 22:00–07:00" in labels and "Link previews: off" in labels
    for row in keyboard.inline_keyboard:
        for button in row:
            assert isinstance(button.callback_data, str)
            assert len(button.callback_data.encode()) <= 64
            assert button_edit(button.callback_data) is not None
    default = parse_html(settings_text(Preferences(), NOW)).plain
    assert "News: instant alerts" in default and "Time zone: UTC" in default


def test_buttons_change_one_thing_each() -> None:
    base = Preferences()
    edit = button_edit("st:mode:digest")
    assert edit is not None and edit(base).digest_times == (time(8),)
    digest = edit(base)
    add = button_edit("st:dt:1800")
    assert add is not None and add(digest).digest_times == (time(8), time(18))
    drop = button_edit("st:dt:0800")
    assert drop is not None
    with pytest.raises(TimeError, match="at least one time"):
        drop(digest)
    zone = button_edit("st:tz:Asia/Tokyo")
    assert zone is not None and zone(base).timezone == "Asia/Tokyo"
    quiet = button_edit("st:q:2300-0800")
    assert quiet is not None and quiet(base).quiet == (time(23), time(8))
    for bad in ["st:tz:Mars/Base", "st:dt:2500", "st:q:2200-2200", "st:mode:often", "st:", "x"]:
        assert button_edit(bad) is None


def test_typed_commands() -> None:
    base = Preferences()
    assert digest_edit("08:00 18:00")(base).digest_times == (time(8), time(18))
    assert digest_edit("off")(replace(base, mode=DIGEST)).mode == INSTANT
    assert quiet_edit("22:00-07:00")(base).quiet == (time(22), time(7))
    assert quiet_edit("silent")(base).quiet_mode == SILENT
    assert quiet_edit("23-6 silent")(base) == replace(
        base, quiet=(time(23), time(6)), quiet_mode=SILENT
    )
    assert quiet_edit("off")(replace(base, quiet=(time(1), time(2)))).quiet is None
    assert previews_edit("OFF")(base).previews is False
    for bad in ["25:00", "08:00 nonsense"]:
        with pytest.raises(TimeError):
            digest_edit(bad)
    with pytest.raises(TimeError):
        quiet_edit("22:00")
    with pytest.raises(TimeError):
        previews_edit("maybe")
