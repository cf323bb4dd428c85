"""What reads as story prose: whole sentences, or a first paragraph the page left open.

Some pages end their first paragraph without a full stop, or with a colon that introduces
a list or a timeline ("The Latest on the storm (all times local):"). Such a paragraph can
still open a summary, closed with "…" as a sentence cut after a clause is, when it reads
as prose: it starts like a sentence, is long, is mostly lowercase words (not a title or a
label list), is not furniture, and stops on a word rather than a comma or "the". Where it
sits on the page is for the caller to judge (see story.py).
"""

from __future__ import annotations

import re

from bot.summaries.clutter import is_clutter, strip_dateline
from bot.summaries.fragments import (
    ELLIPSIS,
    ends_like_sentence,
    sentence_problem,
    starts_like_sentence,
)
from bot.summaries.furniture import furniture_kind
from bot.summaries.lang import UNSPACED_RE
from bot.summaries.sentences import split_sentences

# A lede has at least this many words (or characters, in scripts written without spaces).
_MIN_LEDE_WORDS = 8
_MIN_LEDE_CHARS_UNSPACED = 20
# A paragraph left open needs more words, not counting its dateline: short open lines are
# titles, labels and captions. One ending with a colon introduces what follows; a lede's
# length is enough for it.
_MIN_OPEN_WORDS = 12
# Prose is mostly lowercase words; a title or a run of names and labels is not.
_MIN_LOWERCASE_SHARE = 0.5
_LETTER_RE = re.compile(r"[^\W\d_]")
# What an open paragraph may stop on: a word, a number, a closing bracket or quote.
_OPEN_END_RE = re.compile(r"[^\W_][\"'”’»)\]]*$")


def long_enough(text: str) -> bool:
    """Tell whether text is long enough to be a lede."""
    if UNSPACED_RE.search(text) and " " not in text.strip():
        return len(text) >= _MIN_LEDE_CHARS_UNSPACED
    return len(text.split()) >= _MIN_LEDE_WORDS


def is_prose(text: str) -> bool:
    """Tell whether a paragraph reads as story prose: whole sentences, none of them clutter."""
    if not (long_enough(text) and starts_like_sentence(text) and ends_like_sentence(text)):
        return False
    if furniture_kind(text):
        return False
    sentences = split_sentences(text[:1500])
    if not sentences or sentence_problem(sentences[0]) or is_clutter(sentences[0]):
        return False
    return sum(1 for s in sentences if is_clutter(s)) * 2 < len(sentences)


def _mostly_lowercase(words: list[str]) -> bool:
    """Tell whether most words after the first begin with a lowercase letter."""
    initials = [m.group() for w in words[1:] if (m := _LETTER_RE.search(w))]
    cased = [c for c in initials if c.isupper() or c.islower()]
    if not cased:
        return False
    return sum(1 for c in cased if c.islower()) >= _MIN_LOWERCASE_SHARE * len(cased)


def close_open_prose(text: str) -> str | None:
    """Return a prose paragraph that ends without a full stop closed with "…", else None.

    A final colon (the paragraph introduces what follows) gives way to the "…". Text that
    already ends like a sentence, stops on a comma, a dash, a hashtag or a word no clause
    ends with, or reads as a title, a label list or furniture gives None.
    """
    text = text.strip()
    if ends_like_sentence(text) or UNSPACED_RE.search(text) or furniture_kind(text):
        return None
    introduces = text.endswith(":")
    body = text.removesuffix(":").rstrip()
    # A hashtag or a handle is not where a clause ends.
    if not _OPEN_END_RE.search(body) or body.rsplit(maxsplit=1)[-1].startswith(("#", "@")):
        return None
    words = strip_dateline(body).split()
    if not introduces and len(words) < _MIN_OPEN_WORDS:
        return None
    if not (long_enough(body) and _mostly_lowercase(words)):
        return None
    closed = body + ELLIPSIS
    return closed if is_prose(closed) else None
