"""Turn headlines into language-independent tokens for grouping reports into stories.

Case and accents are folded, possessives and plurals cut, numbers written one way
("150,000" and "150000", "$4 billion" and "4bn"), and scripts written without spaces
(Chinese, Japanese, Thai, Lao, Khmer, Myanmar) become overlapping character pairs, so
two reports of one event share tokens whatever their spelling habits.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from itertools import chain, pairwise

# Marks that stack on a letter (accents, Hebrew points, Arabic harakat, kana voicing and
# tone marks: a non-zero combining class) are left out, as spelling often omits them
# ("Zurich" for "Zürich"). Marks of class 0 (Indic vowel signs and the like) spell the
# word, and so do the nukta (7) and the virama (9): they stay.
_SPELLING_CLASSES = (0, 7, 9)
# Where combining marks live outside the big ideograph and syllable blocks, which hold none.
_MARK_BLOCKS = ((0x0300, 0x33FF), (0xA000, 0xABFF), (0xFB00, 0x1FFFF))
# Scripts written without spaces between words.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3100-\u312f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)


def _marks() -> tuple[dict[int, int | None], str]:
    """Return a table deleting optional marks and a class of the marks kept in words."""
    dropped: dict[int, int | None] = {}
    kept: list[str] = []
    for cp in chain.from_iterable(range(lo, hi + 1) for lo, hi in _MARK_BLOCKS):
        char = chr(cp)
        if unicodedata.category(char)[0] != "M":
            continue
        if unicodedata.combining(char) in _SPELLING_CLASSES:
            kept.append(re.escape(char))
        else:
            dropped[cp] = None
    return dropped, "".join(kept)


_DROP_MARKS, _KEPT_MARKS = _marks()
# Typographic apostrophes become plain ones, so "Fed’s" loses its 's like "Fed's".
_DROP_MARKS.update({ord("’"): ord("'"), ord("ʼ"): ord("'"), ord("‘"): ord("'")})

# A number (digits with separators, maybe a unit or ordinal glued on, maybe a percent
# sign), an initialism written with dots (U.S., E.U.), or a word (letters, digits and
# the marks that belong to them, joined by an apostrophe or an ampersand as in S&P).
_TOKEN_RE = re.compile(
    rf"(?P<num>\d+(?:[.,]\d+)*(?:[^\W\d_{_UNSPACED}]{{1,3}}\b)?%?)"
    rf"|(?P<unspaced>[{_UNSPACED}]+)"
    r"|(?P<dots>(?:[^\W\d_]\.){2,})"
    rf"|(?P<word>(?:[^\W_{_UNSPACED}]|[{_KEPT_MARKS}])+"
    rf"(?:['&](?:[^\W_{_UNSPACED}]|[{_KEPT_MARKS}])+)*)"
)
# Dates say when, which the report's time already tells, and roundups share them:
# "3/10/14", "2014-03-10", "March 10, 2014", "10 Mar 2014" are left out.
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_DATE_RE = re.compile(
    r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+\d{{4}}\b)?",
    re.IGNORECASE,
)
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+(?=$|\.)")
# Words for magnitudes and units that follow a number ("4 billion", "2 per cent" is rarer).
_MAGNITUDES = {
    "k": "k",
    "thousand": "k",
    "m": "m",
    "mn": "m",
    "mln": "m",
    "million": "m",
    "b": "bn",
    "bn": "bn",
    "bln": "bn",
    "billion": "bn",
    "tn": "tn",
    "trillion": "tn",
    "pct": "%",
    "percent": "%",
}

# Function words of the languages news feeds most often use. A running document
# frequency finds the rest, but only after it has seen a few hundred headlines; this
# list keeps the first ones from being grouped on "the" and "of".
STOPWORDS = frozenset(
    """
    a an and are as at be been but by for from had has have he her his how i if in into is
    it its may more new no not of on or our over says said she so than that the their them
    they this to up us was we were what when where which who why will with would you your
    after about all amid among can could do does off out s t vs via
    al als am an auf aus bei das dem den der des die ein eine einem einen einer es für im
    ist mit nach nicht noch oder sich sind über um und von vor wie wird zu zum zur
    au aux avec ce ces cet cette dans de des du elle en est et il ils la le les leur mais
    par pas plus pour qu que qui sa se ses son sont sur un une
    con del el ella ellos era es esta este lo los las mas para pero por se sin su sus una y
    al da degli dei della delle di gli il nel nella non per sono tra
    ao aos como da das do dos em foi na nas no nos os ou pela pelo que
    """.split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """Distinct tokens of one report: its title's, and those only its summary has."""

    title: frozenset[str]
    summary: frozenset[str]
    # Capitalized words next to each other in the title (stopwords left out), as in a
    # name of several words, and overlapping character pairs of one unspaced run.
    pairs: frozenset[tuple[str, str]] = frozenset()


def _fold(text: str) -> str:
    """Split accents off and drop them; unify apostrophes and compatibility forms."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_DROP_MARKS)


def _number(raw: str) -> str:
    """Write a number one way: no thousands separators, decimal point, lower-case unit."""
    raw = raw.lower()
    thousands = _THOUSANDS_RE.match(raw)
    if thousands:
        raw = thousands.group().replace(",", "") + raw[thousands.end() :]
    raw = raw.replace(",", ".")
    digits = raw.rstrip("abcdefghijklmnopqrstuvwxyz%")
    unit = raw[len(digits) :]
    return digits + _MAGNITUDES.get(unit, unit)


# Words whose ending is not a plural's or a suffix.
_KEEP = frozenset({"news", "series", "species", "always", "perhaps", "whereas"})


def _stem(word: str) -> str:
    """Cut a possessive and common suffixes, so "rejects", "rejected" and "rejecting" meet.

    The cuts are English ones, applied to every Latin-script word: both sides of a
    comparison are cut alike, so at worst two words of another language meet too.
    """
    if "'" in word:
        head, _, tail = word.partition("'")
        word = head if tail == "s" else head + tail
    if len(word) < 4 or not word.isascii() or not word.isalpha() or word in _KEEP:
        return word
    if word.endswith("ies") and len(word) >= 5:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes")):
        word = word[:-2]
    elif word[-1] == "s" and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "es", "er", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) >= 5 and word[-1] == "e":
        word = word[:-1]
    if len(word) >= 5 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        # "planned", "stopping": one consonant is left of the doubled pair.
        word = word[:-1]
    return word


def _unspaced(run: str) -> list[str]:
    """Return the overlapping pairs of characters (with their marks) of an unspaced run."""
    units: list[str] = []
    for char in run:
        if units and unicodedata.category(char)[0] == "M":
            units[-1] += char
        else:
            units.append(char)
    if len(units) < 2:
        return units
    return [a + b for a, b in pairwise(units)]


# Folded forms of recently seen words ("" for stopwords); cleared when full so memory
# stays bounded.
_SEEN: dict[str, str] = {}
_SEEN_MAX = 1 << 16


def _word(raw: str) -> str:
    """Fold one word, or return "" for a stopword or a single Latin letter."""
    folded = _SEEN.get(raw)
    if folded is None:
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        lower = raw.casefold()
        if lower in STOPWORDS or (len(lower) == 1 and lower.isascii()):
            folded = ""
        else:
            folded = sys.intern(_stem(lower))
        _SEEN[raw] = folded
    return folded


def _scan(text: str) -> list[tuple[str, bool]]:
    """Return the tokens of text in order, each with whether it was written capitalized."""
    out: list[tuple[str, bool]] = []
    pending_number = False
    for match in _TOKEN_RE.finditer(_DATE_RE.sub(" ", _fold(text))):
        kind = match.lastgroup
        raw = match.group()
        if kind == "num":
            out.append((_number(raw), False))
            # "4 billion": the next word may be the number's magnitude.
            pending_number = raw[-1].isdigit()
            continue
        if kind == "unspaced":
            # Overlapping pairs of one run are bound like the words of a name.
            out.extend((pair, True) for pair in _unspaced(raw))
        elif kind == "dots":
            out.append((raw.replace(".", "").casefold(), True))
        elif pending_number and raw.casefold() in _MAGNITUDES:
            out[-1] = (out[-1][0] + _MAGNITUDES[raw.casefold()], False)
        else:
            word = _word(raw)
            if word:
                out.append((word, raw[0].isupper()))
        pending_number = False
    return out


def tokenize(text: str) -> list[str]:
    """Return the tokens of text in order, stopwords and dates left out."""
    return [token for token, _ in _scan(text)]


# Longest title read; longer ones are pages pasted into the title, not headlines.
MAX_TITLE_CHARS = 1000


def _head(text: str, chars: int) -> str:
    """Return the start of text up to chars characters, cut between words."""
    if len(text) <= chars:
        return text
    cut = text[:chars]
    space = cut.rfind(" ")
    return cut[:space] if space > chars // 2 else cut


def tokens(title: str, summary: str | None = None, *, summary_words: int = 0) -> Tokens:
    """Return the distinct tokens of a report's title and of its summary's first words."""
    ordered = _scan(_head(title, MAX_TITLE_CHARS))
    words = frozenset(token for token, _ in ordered)
    extra: frozenset[str] = frozenset()
    if summary and summary_words > 0:
        # Words average under 8 characters: twice that reads enough for the first ones.
        start = _head(summary, 16 * summary_words)
        extra = frozenset(tokenize(start)[:summary_words]) - words
    pairs = frozenset((a, b) for (a, up_a), (b, up_b) in pairwise(ordered) if up_a and up_b)
    return Tokens(title=words, summary=extra, pairs=pairs)
