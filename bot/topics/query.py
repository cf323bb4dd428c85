"""Parse topic queries and fold text into the tokens that queries and entries share.

A query is an OR of ANDs of terms plus exclusions that apply to the whole query.
A term is a tuple of folded tokens: one token is a word, several are a phrase.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import TYPE_CHECKING, TypeAlias

from bot.i18n import N_, Explained

if TYPE_CHECKING:
    pass

MAX_QUERY_LENGTH = 200
MAX_TERMS = 10

Term: TypeAlias = tuple[str, ...]

# Typed quotes as well as straight ones: phone keyboards turn " into “ ” or „ “.
_QUOTES = '"“”„‟«»'
# "or" in any case separates alternatives: people write "kosovo or serbia" and mean it.
_OR = "OR"
# Words are ANDed anyway; an explicit AND is accepted rather than required as a word.
_AND = "AND"
# A quoted phrase (maybe excluded, maybe unclosed) or a run of other non-space text.
_LEX_RE = re.compile(f"(-?)[{_QUOTES}]([^{_QUOTES}]*)([{_QUOTES}]?)|[^\\s{_QUOTES}]+")


# Scripts written without spaces between words: each character is a token, so a
# multi-character query becomes a phrase and matches as one (Thai, Lao, Myanmar,
# Khmer, kana, Bopomofo, CJK ideographs).
_PER_CHAR_RANGES = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x3100, 0x312F),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
# Optional diacritics, dropped like Latin accents: combining diacritical marks,
# Cyrillic titlo, Hebrew points, Arabic harakat, kana voicing marks, variation selectors.
_DROPPED_RANGES = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x0591, 0x05C7),
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
    (0x3099, 0x309A),
    # Variation selectors (emoji presentation and the like) carry no letters.
    (0x180B, 0x180D),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)
# Where combining marks live; CJK ideographs, Hangul syllables and private use
# hold none and are skipped to keep the import quick.
_MARK_SCAN_RANGES = ((0x0300, 0x33FF), (0xA000, 0xABFF), (0xF900, 0x1FFFF), (0xE0100, 0xE01EF))


def _in_ranges(cp: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _char_class(code_points: list[int]) -> str:
    """Return a regex character class body matching exactly code_points (sorted)."""
    ranges: list[list[int]] = []
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


def _mark_classes() -> tuple[list[int], list[int]]:
    """Return the marks to drop and the marks that belong to words."""
    dropped: list[int] = []
    kept: list[int] = []
    scan = chain.from_iterable(range(lo, hi + 1) for lo, hi in _MARK_SCAN_RANGES)
    for cp in scan:
        if unicodedata.category(chr(cp))[0] != "M":
            continue
        if _in_ranges(cp, _DROPPED_RANGES):
            dropped.append(cp)
        elif not _in_ranges(cp, _PER_CHAR_RANGES):
            # Vowel signs of Indic and similar scripts spell the word: keep them in it.
            kept.append(cp)
    return dropped, kept


_DROPPED_MARKS, _KEPT_MARKS = _mark_classes()
_PER_CHAR = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _PER_CHAR_RANGES)
_KEPT = _char_class(_KEPT_MARKS)
_PER_CHAR_RE = re.compile(f"[{_PER_CHAR}]")
_DROPPED_RE = re.compile(f"[{_char_class(_DROPPED_MARKS)}]+")
_WORD_RE = re.compile("[^\\W_]+")
_TOKEN_RE = re.compile(f"(?=[^\\W_])[{_PER_CHAR}]|(?:[^\\W_{_PER_CHAR}]|[{_KEPT}])+")
# Text that needs _TOKEN_RE: per-character scripts or marks kept in words. Kept marks
# above U+FFFF are covered by one coarse range, as long lists of astral ranges make
# every search slow; emoji lie above it.
_SPECIAL_RE = re.compile(
    f"[{_PER_CHAR}{_char_class([cp for cp in _KEPT_MARKS if cp <= 0xFFFF])}"
    f"\\U00010000-\\U{max(_KEPT_MARKS):08x}]"
)
_ASCII_WORD_RE = re.compile("[a-z0-9]+")
# The apostrophe comes first so the regex engine can scan for it quickly.
_POSSESSIVE_RE = re.compile("['ʼ]s\\b(?<=\\w['ʼ]s)")
_PLAIN_PUNCTUATION = (
    ("’", "'"),
    ("‘", "'"),
    ("“", " "),
    ("”", " "),
    ("—", " "),
    ("–", " "),
    ("…", " "),
    ("\xa0", " "),
    ("«", " "),
    ("»", " "),
)

# Plural-looking words whose singular means something else.
_NO_STEM = frozenset({"news"})


class QueryError(Explained):
    """A query that must be rewritten; ``str(error)`` tells the user how (in English).

    `translated(t)` says the same in a chat's language.
    """


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed topic query: an OR of ANDs of terms, minus the exclusions."""

    alternatives: tuple[tuple[Term, ...], ...]
    exclusions: tuple[Term, ...]
    canonical: str
    # Two spellings of one topic are the same query; only the wording shown differs.
    display: str = field(compare=False)


def _normalize(text: str) -> str:
    """Case-fold, strip accents and possessive 's so both sides compare alike."""
    folded = text.casefold()
    if not folded.isascii():
        # Most non-ASCII in news copy is typographic punctuation; trading it for
        # ASCII (none of it is part of a word) spares most texts the Unicode work.
        for char, plain in _PLAIN_PUNCTUATION:
            if char in folded:
                folded = folded.replace(char, plain)
    if not folded.isascii():
        # NFKD splits accents off their letters and compatibility forms (full-width
        # letters, ligatures) into plain ones; casefold again for what NFKD uncovered.
        if not unicodedata.is_normalized("NFKD", folded):
            folded = unicodedata.normalize("NFKD", folded).casefold()
        folded = _DROPPED_RE.sub("", folded)
    if "'" in folded or "ʼ" in folded:
        folded = _POSSESSIVE_RE.sub("", folded)
    return folded


def _stem(token: str) -> str:
    """Fold an English plural to its singular, conservatively and idempotently."""
    size = len(token)
    if size < 4 or token[-1] not in "se" or token in _NO_STEM:
        return token
    if not (token.isascii() and token.isalpha()):
        return token
    if token[-1] == "e":
        # movie/movies, cookie/cookies: both sides end up with -y.
        return token[:-2] + "y" if size >= 5 and token.endswith("ie") else token
    if size >= 5 and token.endswith("ies"):
        return token[:-3] + "y"
    if token.endswith(("sses", "ches", "shes", "xes", "zzes")):
        return token[:-2]
    if size >= 6 and token.endswith("oes"):
        return token[:-2]
    if token.endswith(("ss", "us", "is")):
        return token
    return token[:-1]


def _words(text: str) -> list[str]:
    """Split text into folded tokens before plural folding."""
    normalized = _normalize(text)
    if normalized.isascii():
        return _ASCII_WORD_RE.findall(normalized)
    if _SPECIAL_RE.search(normalized):
        return _TOKEN_RE.findall(normalized)
    return _WORD_RE.findall(normalized)


# Folded form of recently seen words; cleared when full so memory stays bounded.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 1 << 16


def _fold_new(word: str) -> str:
    if len(_FOLDED) >= _FOLDED_MAX:
        _FOLDED.clear()
    folded = _FOLDED[word] = sys.intern(_stem(word))
    return folded


def fold_tokens(text: str) -> list[str]:
    """Return the whole-word tokens of text as matching sees them."""
    known = _FOLDED.get
    return [known(word) or _fold_new(word) for word in _words(text)]


def _is_per_char(token: str) -> bool:
    return len(token) == 1 and _PER_CHAR_RE.match(token) is not None


def _join(tokens: Term) -> str:
    """Join tokens with spaces, but write runs of per-character scripts unspaced."""
    if min(map(len, tokens)) > 1:
        return " ".join(tokens)
    parts = [tokens[0]]
    for prev, token in pairwise(tokens):
        if not (_is_per_char(prev) and _is_per_char(token)):
            parts.append(" ")
        parts.append(token)
    return "".join(parts)


def _render(term: Term) -> str:
    text = _join(term)
    # The word "or" alone would read as the operator: quoted, it stays a word.
    return text if len(term) == 1 and text.upper() != _OR else f'"{text}"'


def _render_query(alternatives: list[list[Term]], exclusions: list[Term]) -> str:
    text = " OR ".join(" ".join(_render(t) for t in alt) for alt in alternatives)
    if exclusions:
        text += " " + " ".join("-" + _render(t) for t in exclusions)
    return text


def _contains(big: Term, small: Term) -> bool:
    """Tell whether small occurs in big as adjacent tokens in order."""
    size = len(small)
    return any(big[i : i + size] == small for i in range(len(big) - size + 1))


def _implies(strict: dict[Term, Term], loose: dict[Term, Term]) -> bool:
    """Tell whether every entry matching all of strict also matches all of loose."""
    return all(any(_contains(s, term) for s in strict) for term in loose)


# Messages are shown to the user as they are.
_EMPTY = N_("The topic is empty: send a word or two to follow, e.g. kosovo.")
_NO_WORDS = N_("The topic has no letters or digits: send words to follow, e.g. kosovo.")
_NO_TERMS = N_("The topic has no word to look for besides AND: send words, e.g. kosovo.")
_UNCLOSED = N_('A quote is not closed: end the phrase with a second ", e.g. "climate summit".')
_EMPTY_PHRASE = N_('A pair of quotes holds no words: put a phrase inside, e.g. "climate summit".')
_ONLY_EXCLUSIONS = N_(
    "The topic only excludes words: add a word to look for, e.g. football -transfer."
)
_OR_FIRST = N_("Nothing comes before OR: put an alternative on each side, e.g. kosovo OR serbia.")
_OR_LAST = N_("Nothing follows OR: put an alternative on each side, e.g. kosovo OR serbia.")
_OR_TWICE = N_("OR appears twice in a row: put an alternative between them, e.g. a OR b OR c.")
_OR_WORD = N_(' To look for the word "or" itself, quote it: "or".')
_NEVER = N_("The topic excludes everything it looks for: drop an exclusion or add an alternative.")
_TOO_LONG = N_("The topic is too long ({length} characters): keep it to {limit} or fewer.")
_TOO_MANY = N_("The topic has {count} terms: use at most {limit} words, phrases and exclusions.")


def _too_long(length: int) -> QueryError:
    return QueryError(_TOO_LONG, length=length, limit=MAX_QUERY_LENGTH)


def _too_many(count: int) -> QueryError:
    return QueryError(_TOO_MANY, count=count, limit=MAX_TERMS)


# A lexed item: None for OR, otherwise (surface tokens, excluded).
_Item: TypeAlias = tuple[Term, bool] | None


def _lex(text: str) -> list[_Item]:
    """Split query text into terms and OR operators."""
    items: list[_Item] = []
    for match in _LEX_RE.finditer(text):
        content = match.group(2)
        if content is not None:
            if not match.group(3):
                raise QueryError(_UNCLOSED)
            words = _words(content)
            if not words:
                raise QueryError(_EMPTY_PHRASE)
            items.append((tuple(words), bool(match.group(1))))
            continue
        chunk = match.group()
        if chunk.upper() == _OR:
            items.append(None)
            continue
        if chunk == _AND:
            continue
        excluded = chunk.startswith("-")
        # Lone punctuation ("&", a dash) carries no term and is skipped.
        words = _words(chunk[1:] if excluded else chunk)
        if words:
            items.append((tuple(words), excluded))
    return items


def _check_or(items: list[_Item]) -> None:
    """Refuse OR without an alternative on each side."""
    sequence = [item for item in items if item is None or not item[1]]
    if not sequence:
        return
    if sequence[0] is None:
        raise QueryError(_OR_FIRST)
    if sequence[-1] is None:
        raise QueryError(_OR_LAST)
    if any(a is None and b is None for a, b in pairwise(sequence)):
        raise QueryError(_OR_TWICE)


def _key(surface: Term) -> Term:
    return tuple(sys.intern(_stem(word)) for word in surface)


def _first_surfaces(surfaces: list[Term]) -> dict[Term, Term]:
    """Map each distinct folded term to the wording it was first written with."""
    firsts: dict[Term, Term] = {}
    for surface in surfaces:
        firsts.setdefault(_key(surface), surface)
    return firsts


def _alternatives(items: list[_Item]) -> list[list[Term]]:
    """Group the surfaces of required terms by OR."""
    groups: list[list[Term]] = [[]]
    for item in items:
        if item is None:
            groups.append([])
        elif not item[1]:
            groups[-1].append(item[0])
    return groups


def _normal_form(
    groups: list[list[Term]], excluded: list[Term]
) -> tuple[list[dict[Term, Term]], dict[Term, Term]]:
    """Drop redundant terms, exclusions and alternatives; sort what is left."""
    exclusions = _first_surfaces(excluded)
    if len(exclusions) > 1:
        # An excluded phrase containing another exclusion adds nothing.
        exclusions = {
            key: surface
            for key, surface in exclusions.items()
            if not any(other != key and _contains(key, other) for other in exclusions)
        }
    alternatives: dict[frozenset[Term], dict[Term, Term]] = {}
    for group in groups:
        terms = _first_surfaces(group)
        if len(terms) > 1:
            # A term found inside another required term (a word of a phrase) adds nothing.
            terms = {
                key: surface
                for key, surface in terms.items()
                if not any(other != key and _contains(other, key) for other in terms)
            }
        if exclusions and any(_contains(key, ex) for key in terms for ex in exclusions):
            continue  # this alternative can never match
        alternatives.setdefault(frozenset(terms), terms)
    if not alternatives:
        raise QueryError(_NEVER)
    kept = list(alternatives.values())
    if len(kept) > 1:
        # An alternative that implies a looser one is covered by it: a OR a b == a.
        kept = [
            terms
            for keys, terms in alternatives.items()
            if not any(
                other != keys and _implies(terms, alternatives[other]) for other in alternatives
            )
        ]
    kept = [dict(sorted(terms.items())) for terms in kept]
    kept.sort(key=lambda terms: tuple(terms))
    return kept, dict(sorted(exclusions.items()))


def parse_query(raw: str) -> Query:
    """Parse a /subscribe query; raise QueryError with a user-facing message if invalid."""
    text = raw.strip()
    if not text:
        raise QueryError(_EMPTY)
    if len(text) > MAX_QUERY_LENGTH:
        raise _too_long(len(text))
    items = _lex(text)
    if not items:
        raise QueryError(_NO_TERMS if _AND in text.split() else _NO_WORDS)
    try:
        _check_or(items)
    except QueryError as err:
        if any(word.upper() == _OR and word != _OR for word in text.split()):
            raise QueryError(*err.parts, _OR_WORD, **err.values) from None
        raise
    terms = [item for item in items if item is not None]
    if all(excluded for _, excluded in terms):
        raise QueryError(_ONLY_EXCLUSIONS)
    if len(terms) > MAX_TERMS:
        raise _too_many(len(terms))
    alternatives, exclusions = _normal_form(
        _alternatives(items), [surface for surface, excluded in terms if excluded]
    )
    # Plural folding only shortens words, so canonical is never longer than display.
    canonical = _render_query([list(alt) for alt in alternatives], list(exclusions))
    display = _render_query([list(alt.values()) for alt in alternatives], list(exclusions.values()))
    # Folding can lengthen text (NFKD of ligatures); the shown form must parse again.
    if len(display) > MAX_QUERY_LENGTH:
        raise _too_long(len(display))
    return Query(
        alternatives=tuple(tuple(alt) for alt in alternatives),
        exclusions=tuple(exclusions),
        canonical=canonical,
        display=display,
    )
