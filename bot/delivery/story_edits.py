"""The text of an alert edited to name its story's other sources: "Also: Reuters, AP"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    Alert,
    AlertHtml,
    esc,
    esc_attr,
    render_plain,
    safe_link,
    utf16_cut,
    utf16_len,
    visible_text,
)
from bot.i18n import ENGLISH, Translator
from bot.stories.alerts import Source

MAX_SOURCE_CHARS = 60


def _names(sources: Sequence[Source], more: int, *, html: bool, t: Translator) -> str:
    parts = []
    for source in sources:
        name = utf16_cut(" ".join(source.name.split()), MAX_SOURCE_CHARS)
        link = safe_link(source.link)
        if html and link:
            parts.append(f'<a href="{esc_attr(link)}">{esc(name)}</a>')
        else:
            parts.append(esc(name) if html else name)
    text = ", ".join(parts)
    if more:
        text = t.ngettext("{names} and {count} more", "{names} and {count} more", more).format(
            names=text, count=more
        )
    return t.gettext("Also: {sources}").format(sources=text)


def also_line(sources: Sequence[Source], more: int = 0, t: Translator = ENGLISH) -> str:
    """Return the "Also:" line as HTML: each source's name linked to its report, escaped."""
    return _names(sources, more, html=True, t=t)


def also_plain(sources: Sequence[Source], more: int = 0, t: Translator = ENGLISH) -> str:
    """Return the "Also:" line as plain text."""
    return _names(sources, more, html=False, t=t)


def edited_alert(
    alert: Alert,
    sources: Sequence[Source],
    more: int = 0,
    *,
    alert_html: AlertHtml,
    t: Translator = ENGLISH,
) -> tuple[str, str]:
    """Return (HTML, plain text) of the alert with its "Also:" line, within Telegram's 4096.

    The line goes last; when the alert and the line are too long together, the summary is
    cut, never the headline or the line.
    """
    if not sources and not more:
        return alert_html(alert, t), render_plain(alert)
    line, plain_line = also_line(sources, more, t), also_plain(sources, more, t)
    room = MAX_MESSAGE_CHARS - utf16_len(plain_line) - 2
    html = alert_html(alert, t)
    if utf16_len(visible_text(html)) > room:
        bare = utf16_len(visible_text(alert_html(replace(alert, summary=""), t)))
        allowed = max(0, room - bare - 4)  # the blank line before the summary, and slack
        summary = " ".join(alert.summary.split())
        alert = replace(alert, summary=utf16_cut(summary, allowed) if allowed > 1 else "")
        html = alert_html(alert, t)
    plain = render_plain(alert)
    plain = utf16_cut(plain, max(0, room)) + "\n\n" + plain_line
    return html + "\n\n" + line, plain
