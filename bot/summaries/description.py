"""Choose between the summary of an extracted story and the feed's own description.

Most wire feeds describe each story with its lede, written for exactly this use. When that
description is clean and complete, it is preferred to an extraction that does not open the
same way (an extractor that took a sidebar, a caption or a teaser for another story) or that
came out empty or broken; an extraction that opens like the description is kept, since it
tells the same story and may go on for longer.
"""

from __future__ import annotations

import re

from bot.summaries.extractive import DEFAULT_MAX_CHARS, summarize_text
from bot.summaries.fragments import ends_like_sentence, is_fragment, starts_like_sentence
from bot.summaries.furniture import furniture_kind
from bot.summaries.lede import repeats_headline, tokens

# Fewer words than this is a label or a teaser, not a description of the story.
_MIN_WORDS = 8
# Words two summaries must open with alike to tell the same story.
_OPENING_WORDS = 8
# "Read more", "Continue reading", "[…]": the feed cut the text short.
_CUT_SHORT_RE = re.compile(
    r"(?:\.\.\.|…|\[\s*(?:…|\.\.\.)\s*\]|\(more…?\)|»|\b(?:read|see)\s+(?:more|the\s+full"
    r"\s+(?:story|article))|\bcontinue\s+reading(?:\s+\S+){0,6}|\bkeep\s+reading)\W*$",
    re.IGNORECASE,
)
# WordPress appends "The post <title> appeared first on <site>." to every description.
_APPEARED_FIRST_RE = re.compile(r"\bThe post .{1,300}? appeared first on .{1,120}$", re.DOTALL)


def clean_description(description: str | None, *, title: str | None = None) -> str | None:
    """Return a feed description when it is clean and complete, else None.

    Clean and complete: whole sentences from start to end, not cut short ("…", "Read
    more"), not page furniture, at least a few words, and more than the headline again.
    """
    if not description:
        return None
    text = _APPEARED_FIRST_RE.sub("", description).strip()
    flat = " ".join(text.split())
    if len(flat.split()) < _MIN_WORDS or _CUT_SHORT_RE.search(flat):
        return None
    if not (starts_like_sentence(flat) and ends_like_sentence(flat)):
        return None
    if furniture_kind(flat) or is_fragment(flat) or repeats_headline(flat, title):
        return None
    return text


def _opens_alike(a: str, b: str) -> bool:
    """Tell whether two summaries open with the same words."""
    first, second = tokens(a)[:_OPENING_WORDS], tokens(b)[:_OPENING_WORDS]
    size = min(len(first), len(second))
    return size > 0 and first[:size] == second[:size]


def prefer_description(
    extracted: str,
    *,
    description: str | None,
    title: str | None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """Return the summary to send: the extracted one, or the feed's description's.

    The description wins when it is clean and complete and the extracted summary is
    empty, a fragment, or opens differently. Without a usable description, an empty
    extraction falls back to whatever summary the description still gives.
    """
    described = summarize_text(description or "", title=title, max_chars=max_chars)
    if clean_description(description, title=title) is None or not described:
        return extracted or described
    if not extracted or is_fragment(extracted) or not _opens_alike(extracted, described):
        return described
    return extracted
