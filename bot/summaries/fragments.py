"""What counts as a fragment: a summary that does not begin and end like sentences.

A summary is whole when every one of its sentences
- begins like a sentence: after any opening quote or bracket, a capital letter, a digit,
  a letter of a script without case (Arabic, Chinese, …) or a word such as "iPhone" whose
  lowercase start is a brand's spelling;
- has at least two words (one word, as in "flag." or "DigiTimes.", is a torn-off piece),
  unless it is a question or an exclamation ("Why?") or written in a script without spaces;
- ends with sentence punctuation (. ! ? and their CJK, Arabic and Indic forms, maybe followed
  by a closing quote or bracket) that does not follow a comma, colon or dash (", ." is what
  is left when a list or quote was cut out), or trails off with "…" right after a word or a
  closing quote, as a sentence cut after a clause does (never after a comma or a space, nor
  after a word no clause ends with, such as "the", "of" or "and").
Emoji after the final punctuation are allowed ("today! 🙂"). A sentence opening with a quote
mark and a space begins with the previous one's closing quote.
"""

from __future__ import annotations

import re
import unicodedata

from bot.summaries.lang import UNSPACED_RE, word_set
from bot.summaries.sentences import split_sentences

ELLIPSIS = "…"
# Words no clause ends with: text that stops after one stops mid-clause.
DANGLING_WORDS = word_set(
    "a an the of to in on at for with by from and or but as that which who whose whom is are "
    "was were be been has have had will would can could its their his her our your my this "
    "der die das und oder von zu im mit el la los las y o de del en que le les des et du au"
)

_OPENERS = "\"'“‘«„‚([¿¡—–-*• "
_CLOSERS = "\"'”’»)]"
_TERMINALS = ".!?。！？؟।"
# Emoji, their joiners and variation selectors, and other symbols.
_SYMBOLS = frozenset(("So", "Sk", "Cf", "Mn"))
# A capital inside the first word: "iPhone", "eBay", "iOS".
_CAMEL_RE = re.compile(r"^[a-z]+[A-Z]")
_WORD_RE = re.compile(r"[^\W_]+")
_LAST_WORD_RE = re.compile(r"([^\W_]+)\W*$")
# A quote mark and a space: the closing quote of the sentence before, torn off with this one.
_STRAY_QUOTE_RE = re.compile(r"^[\"”’»]\s")
# "according to the lawyer, ." or "including: ." : a list or quote was cut out after the clause.
_TORN_END_RE = re.compile(r"[,;:—–-]\s*[.!?]\W*$")


def starts_like_sentence(text: str) -> bool:
    """Tell whether text begins where a sentence can begin."""
    if _STRAY_QUOTE_RE.match(text):
        return False
    start = 0
    while start < len(text) and unicodedata.category(text[start]) in _SYMBOLS:
        start += 1
    core = text[start:].lstrip(_OPENERS)
    if not core:
        return False
    first = core[0]
    if first.isdigit() or first.isupper():
        return True
    if first.isalpha() and not first.islower():
        return True  # a letter of a script without case
    return _CAMEL_RE.match(core) is not None


def _without_trailing_symbols(text: str) -> str:
    """Strip emoji and other symbols that may follow a sentence's full stop ("today! 🙂")."""
    end = len(text)
    while end and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) in _SYMBOLS):
        end -= 1
    return text[:end]


def ends_like_sentence(text: str) -> bool:
    """Tell whether text ends with sentence punctuation, maybe inside closing quotes."""
    text = _without_trailing_symbols(text)
    if _TORN_END_RE.search(text):
        return False
    core = text.rstrip().rstrip(_CLOSERS)
    if core.endswith((ELLIPSIS, "...")):
        return ends_after_clause(core.rstrip("."))
    return bool(core) and core[-1] in _TERMINALS


def ends_mid_clause(text: str) -> bool:
    """Tell whether text stops on a word no clause ends with ("the", "of", "and")."""
    match = _LAST_WORD_RE.search(text[-80:])
    return match is not None and match.group(1).lower() in DANGLING_WORDS


def ends_after_clause(text: str) -> bool:
    """Tell whether text trails off with "…" right after a clause, not a comma, space or "the"."""
    if not text.endswith(ELLIPSIS):
        return False
    before = text[: -len(ELLIPSIS)]
    if not before or not (before[-1].isalnum() or before[-1] in _CLOSERS + _TERMINALS):
        return False
    return not ends_mid_clause(before)


def _too_short(sentence: str) -> bool:
    """Tell whether a sentence is a single word torn from its context ("Why?" is not)."""
    if UNSPACED_RE.search(sentence) or sentence.rstrip(_CLOSERS).endswith(("?", "!")):
        return False
    return len(_WORD_RE.findall(sentence)) < 2


def sentence_problem(sentence: str) -> str | None:
    """Say what makes one sentence of a summary a fragment, or None when it is whole."""
    if not starts_like_sentence(sentence):
        return f"starts mid-sentence: {sentence[:40]!r}"
    if _too_short(sentence):
        return f"a lone word: {sentence!r}"
    if ends_like_sentence(sentence):
        return None
    return f"ends mid-sentence: {sentence[-40:]!r}"


def fragment_problem(summary: str, *, lang: str | None = None) -> str | None:
    """Say why a summary is a fragment, or return None when it is whole (or empty)."""
    if not summary.strip():
        return None
    sentences: list[str] = []
    for sentence in split_sentences(summary, lang=lang):
        if sentences and not _WORD_RE.search(sentence):
            sentences[-1] += f" {sentence}"  # an emoji the segmenter set apart
        else:
            sentences.append(sentence)
    for sentence in sentences:
        problem = sentence_problem(sentence)
        if problem:
            return problem
    return None


def is_fragment(summary: str, *, lang: str | None = None) -> bool:
    """Tell whether a non-empty summary begins or ends somewhere other than a sentence edge."""
    return fragment_problem(summary, lang=lang) is not None
