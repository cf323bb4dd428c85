"""Pull the story out of a web page, and tell when a feed entry already carries it."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass

from bot.summaries.page import read_page
from bot.summaries.story import story_paragraphs

_HTML_RE = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|article|main|section|div|p|span|h[1-6]|br|meta"
    r"|title|ul|ol|li|table|a\s+href|img|figure|blockquote)\b[^>]*>",
    re.IGNORECASE,
)
_TAG_RE = re.compile(r"<[^>]*>")
_BLOCK_END_RE = re.compile(
    r"</\s*(?:p|div|li|h[1-6]|blockquote|figure|section|article|tr)\s*>|<\s*br\s*/?\s*>"
    r"|\n\s*\n",
    re.IGNORECASE,
)
_SCRIPT_RE = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACES_RE = re.compile(r"\s+")

# A feed's content:encoded with at least this much prose is the story itself; a
# shorter one is a teaser. Descriptions are teasers more often, so they need more.
_CONTENT_MIN_CHARS = 500
_CONTENT_MIN_PARAGRAPHS = 2
_CONTENT_MIN_CHARS_WITH_PARAGRAPHS = 250
_DESCRIPTION_MIN_CHARS = 1000
_DESCRIPTION_MIN_PARAGRAPHS = 3
_DESCRIPTION_MIN_CHARS_WITH_PARAGRAPHS = 400
# Less text than this from a page is a menu or an error notice, not a story.
_MIN_PAGE_TEXT_CHARS = 40
# Paragraphs shorter than this are captions, links or buttons, not prose.
_MIN_PARAGRAPH_CHARS = 40


@dataclass(frozen=True)
class ExtractedPage:
    """Main text and headline found in a page."""

    text: str
    title: str | None


def looks_like_html(text: str) -> bool:
    """Tell whether text is HTML markup rather than plain text."""
    return _HTML_RE.search(text[:20000]) is not None


def extract_page(html: str, *, url: str | None = None) -> ExtractedPage | None:
    """Extract a page's story from its lede on, and its headline; plain text passes as is."""
    if not looks_like_html(html):
        text = html.strip()
        return ExtractedPage(text=text, title=None) if text else None
    page = read_page(html, url=url)
    if page is None:
        return None
    paragraphs = story_paragraphs(page)
    text = "\n\n".join(paragraphs)
    if len(text) < _MIN_PAGE_TEXT_CHARS:
        return None
    return ExtractedPage(text=text, title=page.title)


def extract_main_text(html: str, *, url: str | None = None) -> str | None:
    """Return a page's main text, paragraphs separated by blank lines, or None."""
    page = extract_page(html, url=url)
    return page.text if page else None


def html_paragraphs(fragment: str) -> list[str]:
    """Return the visible text of an HTML fragment as paragraphs."""
    fragment = _SCRIPT_RE.sub(" ", fragment)
    paragraphs = []
    for block in _BLOCK_END_RE.split(fragment):
        text = _SPACES_RE.sub(" ", html_lib.unescape(_TAG_RE.sub(" ", block))).strip()
        if text:
            paragraphs.append(text)
    return paragraphs


def _carries_story(
    fragment: str | None, *, min_chars: int, min_paragraphs: int, min_chars_with_paragraphs: int
) -> bool:
    """Tell whether an HTML or text fragment is long enough to be the whole story."""
    if not fragment or not fragment.strip():
        return False
    paragraphs = html_paragraphs(fragment)
    prose = [p for p in paragraphs if len(p) >= _MIN_PARAGRAPH_CHARS]
    chars = sum(len(p) for p in paragraphs)
    if chars >= min_chars:
        return True
    return len(prose) >= min_paragraphs and chars >= min_chars_with_paragraphs


def has_full_story(*, content_html: str | None, description: str | None) -> bool:
    """Tell whether a feed entry already carries the story, so its page needn't be fetched."""
    return _carries_story(
        content_html,
        min_chars=_CONTENT_MIN_CHARS,
        min_paragraphs=_CONTENT_MIN_PARAGRAPHS,
        min_chars_with_paragraphs=_CONTENT_MIN_CHARS_WITH_PARAGRAPHS,
    ) or _carries_story(
        description,
        min_chars=_DESCRIPTION_MIN_CHARS,
        min_paragraphs=_DESCRIPTION_MIN_PARAGRAPHS,
        min_chars_with_paragraphs=_DESCRIPTION_MIN_CHARS_WITH_PARAGRAPHS,
    )
