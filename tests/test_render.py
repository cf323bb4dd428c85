"""Alert rendering: everything from feeds is escaped and the message fits Telegram's limit."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    Alert,
    format_time,
    render_alert,
    render_broadcast,
    render_plain,
    safe_link,
)

TAG_RE = re.compile(r"<[^>]+>")


def visible(text: str) -> str:
    return html.unescape(TAG_RE.sub("", text))


def alert(**kw: object) -> Alert:
    base: dict[str, object] = {
        "title": "Ministers agree draft",
        "summary": "The council agreed a draft. Talks go on.",
        "link": "https://news.example/world/draft?id=7",
        "source": "Example Wire",
        "published": datetime(2026, 11, 27, 14, 5, tzinfo=UTC),
    }
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_alert_layout() -> None:
    text = render_alert(alert())
    assert text.startswith("<b>Ministers agree draft</b>\n\nThe council agreed a draft.")
    assert "<i>Example Wire · 27 Nov 2026, 14:05 UTC</i>" in text
    assert '<a href="https://news.example/world/draft?id=7">Read the full story</a>' in text


def test_feed_markup_is_escaped() -> None:
    text = render_alert(
        alert(
            title="AT&T <b>buys</b> <script>x</script>",
            summary="Profits < costs & more </i>",
            source="A&B <News>",
            link='https://ex.example/a?x=1&y="2"',
        )
    )
    # Only our own tags remain.
    assert set(re.findall(r"</?([a-z]+)", text)) == {"b", "i", "a"}
    assert "AT&amp;T &lt;b&gt;buys&lt;/b&gt;" in text
    assert "Profits &lt; costs &amp; more &lt;/i&gt;" in text
    assert 'href="https://ex.example/a?x=1&amp;y=&quot;2&quot;"' in text


def test_unsafe_links_dropped() -> None:
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("https://ok.example/a b") is None
    assert safe_link(" https://ok.example/x ") == "https://ok.example/x"
    assert "href" not in render_alert(alert(link="javascript:alert(1)"))


def test_long_summary_fits_limit() -> None:
    text = render_alert(alert(summary="word & " * 3000, title="T" * 1000))
    assert len(visible(text)) <= MAX_MESSAGE_CHARS
    assert "…" in text
    assert "Read the full story" in text


def test_missing_parts() -> None:
    text = render_alert(alert(summary="", link=None, source="", published=None))
    assert text == "<b>Ministers agree draft</b>"
    assert format_time(None) == ""


def test_plain_and_broadcast() -> None:
    plain = render_plain(alert(title="A <b>"))
    assert "<b>" in plain and "https://news.example" in plain
    assert (
        render_broadcast("Maintenance <tonight> & more") == "Maintenance &lt;tonight&gt; &amp; more"
    )
    assert len(render_broadcast("x" * 5000)) <= MAX_MESSAGE_CHARS
