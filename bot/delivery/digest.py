"""Render a chat's held stories as one digest message; everything from feeds is escaped.

Stories are grouped by the topic they matched, each a headline with its link, newest first.
The digest fits Telegram's limit (4096 UTF-16 units of visible text); when the stories
don't, the oldest are left out and the last line says how many.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    UNTITLED,
    _cut,
    esc,
    esc_attr,
    safe_link,
    utf16_len,
)
from bot.digests.items import DigestItem
from bot.i18n import ENGLISH, N_, Translator
from bot.topics.catalog import catalog_label

HEADLINE_CHARS = 200
TOPIC_CHARS = 60
OTHER_TOPIC = N_("Other stories")
# Telegram keeps at most 100 formatting entities in a message: a link per story, a bold
# heading per topic, so a digest lists at most this many stories.
MAX_STORIES = 48


def digest_heading(count: int, t: Translator = ENGLISH) -> str:
    """Return the first line: how many stories the digest has."""
    return t.ngettext(
        "📰 Your digest: {count} story", "📰 Your digest: {count} stories", count
    ).format(count=count)


def more_line(count: int, t: Translator = ENGLISH) -> str:
    """Return the last line of a digest that had to leave stories out."""
    return t.ngettext("…and {count} more: /latest", "…and {count} more: /latest", count).format(
        count=count
    )


def _topic(item: DigestItem, t: Translator) -> str:
    if not item.topic.strip():
        return t.gettext(OTHER_TOPIC)
    return _cut(catalog_label(item.topic, t), TOPIC_CHARS)


def _pick(lines: Sequence[tuple[str, int]], limit: int) -> int:
    """Return how many of the (topic, visible length) lines, newest first, fit in `limit`."""
    topics: set[str] = set()
    used = 0
    for count, (topic, cost) in enumerate(lines):
        need = cost + (0 if topic in topics else utf16_len(topic) + 2)
        if used + need > limit or count >= MAX_STORIES:
            return count
        used += need
        topics.add(topic)
    return len(lines)


def _grouped(lines: Sequence[tuple[str, str]]) -> list[str]:
    """Return a block per topic ("topic\nline\nline"); the newest story's topic comes first."""
    groups: dict[str, list[str]] = {}
    for head, line in lines:
        groups.setdefault(head, []).append(line)
    return [f"{head}\n" + "\n".join(group) for head, group in groups.items()]


def render_digest(items: Sequence[DigestItem], t: Translator = ENGLISH) -> tuple[str, str]:
    """Return the digest as (HTML, plain text), each within Telegram's message limit.

    The stories stay as their feeds wrote them; `t` translates the words around them.
    """
    ordered = sorted(items, key=lambda i: i.published, reverse=True)
    untitled = t.gettext(UNTITLED)
    stories = [
        (_topic(i, t), _cut(i.title or untitled, HEADLINE_CHARS), safe_link(i.link))
        for i in ordered
    ]
    heading = digest_heading(len(ordered), t)
    # Room for the longest "…and N more" line is kept, so a cut digest fits with it.
    limit = MAX_MESSAGE_CHARS - utf16_len(heading) - utf16_len(more_line(len(ordered), t)) - 4
    # Visible text per story: "• headline\n"; the plain text adds " — link".
    html_count = _pick([(t, utf16_len(h) + 3) for t, h, _ in stories], limit)
    plain_count = _pick(
        [(t, utf16_len(h) + 3 + (utf16_len(link) + 3 if link else 0)) for t, h, link in stories],
        limit,
    )
    html_lines = [
        (
            f"<b>{esc(topic)}</b>",
            f'• <a href="{esc_attr(link)}">{esc(head)}</a>' if link else f"• {esc(head)}",
        )
        for topic, head, link in stories[:html_count]
    ]
    plain_lines = [
        (topic, f"• {head}" + (f" — {link}" if link else ""))
        for topic, head, link in stories[:plain_count]
    ]
    html_blocks = [f"<b>{esc(heading)}</b>", *_grouped(html_lines)]
    plain_blocks = [heading, *_grouped(plain_lines)]
    if html_count < len(ordered):
        html_blocks.append(esc(more_line(len(ordered) - html_count, t)))
    if plain_count < len(ordered):
        plain_blocks.append(more_line(len(ordered) - plain_count, t))
    return "\n\n".join(html_blocks), "\n\n".join(plain_blocks)
