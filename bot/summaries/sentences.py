"""Split text into paragraphs and sentences with pysbd, one cached segmenter per language."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator

import pysbd
from pysbd.abbreviation_replacer import AbbreviationReplacer
from pysbd.languages import LANGUAGE_CODES

from bot.summaries.lang import DEFAULT_LANGUAGE, detect_language, word_set

# pysbd costs roughly 1 ms per 100 characters, so text is fed to it in windows
# and only as far as the caller reads.
FULL_WINDOW_CHARS = 2000

BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
_ODD_SPACE = r"\t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000"
# Matches only runs that need rewriting: two or more spaces, or any unusual space.
_SPACE_RE = re.compile(rf" ?[{_ODD_SPACE}][ {_ODD_SPACE}]*| {{2,}}")
_INVISIBLE_RE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_TERMINAL_RE = re.compile(r"[.!?…。！？؟;](?:[\"'”’»)\]]*)$")

# Titles before a name that pysbd misreads as sentence ends in some languages
# ("Sr. García" in Spanish); English ones are already handled by pysbd.
_NAME_TITLES: dict[str, frozenset[str]] = {
    "es": word_set("sr sra srta sres dr dra prof lic ing gral arq excmo excma"),
    "de": word_set("dr prof hr fr nr st"),
    "fr": word_set("mme mlle mm dr pr me st"),
    "it": word_set("sig sigg dott prof ing avv on"),
    "nl": word_set("dhr mevr dr prof drs ir"),
}
_LAST_WORD_RE = re.compile(r"([^\W\d_]+)\.$")
_CLOCK_END_RE = re.compile(r"\b[ap]\.m\.$", re.IGNORECASE)
_CLOCK_CONTINUATION_RE = re.compile(
    r"(?i:(?:on|this|next|last)\s+)?(?i:mon|tues|wednes|thurs|fri|satur|sun)day\b"
    r"|(?i:local\s+time)\b|(?:[ECMP][SD]?T|GMT|UTC|BST|CET)\b"
)
# "… 2025 г. Оппозиция …": a year abbreviation followed by a capital ends a sentence.
_RU_YEAR_END_RE = re.compile(r"(?<=\d\sг\.)\s+(?=[А-ЯЁ])|(?<=\d\sгг\.)\s+(?=[А-ЯЁ])")


def normalize_text(text: str) -> str:
    """Unify line ends and spaces and drop invisible characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE_RE.sub("", text)
    return _SPACE_RE.sub(" ", text)


def ends_sentence(text: str) -> bool:
    """Tell whether text ends with sentence punctuation."""
    return _TERMINAL_RE.search(text.rstrip()) is not None


def split_paragraphs(text: str) -> list[str]:
    """Split text into paragraphs, joining hard-wrapped lines."""
    text = normalize_text(text).strip()
    if not text:
        return []
    if BLANK_LINE_RE.search(text):
        blocks = BLANK_LINE_RE.split(text)
        return [p for p in (" ".join(_lines(block)) for block in blocks) if p]
    lines = _lines(text)
    if looks_hard_wrapped(lines):
        return [" ".join(lines)]
    return lines


def _lines(block: str) -> list[str]:
    """Return the non-empty stripped lines of a block."""
    return [line.strip() for line in block.split("\n") if line.strip()]


def looks_hard_wrapped(lines: list[str]) -> bool:
    """Tell whether lines are one text wrapped at a fixed width rather than paragraphs."""
    if len(lines) < 3:
        return False
    open_ended = sum(1 for line in lines[:-1] if not ends_sentence(line))
    mean_length = sum(map(len, lines)) / len(lines)
    return open_ended * 2 > len(lines) - 1 and mean_length >= 40


# A pysbd Segmenter keeps per-call state, so each thread gets its own set.
_local = threading.local()


def _quicker(module: type) -> type:
    """Return a pysbd language that skips abbreviations a text can't contain.

    pysbd tries every abbreviation of the language (about 200) with a regular expression
    per line, which is most of its time. An abbreviation only changes the text where a
    period follows it, so a plain one ("mr", "calif") whose "abbr." is absent from the
    line is left out; dotted ones ("u.s", "e.g") are always tried, as pysbd reads them as
    patterns. The sentences are the same.
    """
    base: type = getattr(module, "AbbreviationReplacer", AbbreviationReplacer)
    abbreviations = module.Abbreviation  # type: ignore[attr-defined]
    # (abbreviation, what must be in the line for it to matter, or "" if always tried)
    keys = [
        (a, f"{a.strip()}." if a.strip().isalnum() else "") for a in abbreviations.ABBREVIATIONS
    ]

    class Replacer(base):  # type: ignore[misc]
        lang: type

        def search_for_abbreviations_in_string(self, text: str) -> str:
            lowered = text.lower()
            kept = [a for a, key in keys if key in lowered]
            narrowed = type("Abbreviation", (abbreviations,), {"ABBREVIATIONS": kept})
            language = self.lang
            self.lang = type(language.__name__, (language,), {"Abbreviation": narrowed})
            try:
                result: str = super().search_for_abbreviations_in_string(text)
            finally:
                self.lang = language
            return result

    return type(module.__name__, (module,), {"AbbreviationReplacer": Replacer})


def _segmenter(lang: str) -> pysbd.Segmenter:
    """Return this thread's pysbd segmenter for a language, built once."""
    cache: dict[str, pysbd.Segmenter] | None = getattr(_local, "segmenters", None)
    if cache is None:
        cache = _local.segmenters = {}
    segmenter = cache.get(lang)
    if segmenter is None:
        segmenter = cache[lang] = pysbd.Segmenter(language=lang, clean=False)
        segmenter.language_module = _quicker(segmenter.language_module)
    return segmenter


def resolve_language(text: str, lang: str | None) -> str:
    """Return a language pysbd knows: the one given, else a guess from text."""
    if lang is None:
        lang = detect_language(text)
    lang = lang.lower().split("-")[0].split("_")[0]
    return lang if lang in LANGUAGE_CODES else DEFAULT_LANGUAGE


def _fix_segments(segments: list[str], lang: str) -> list[str]:
    """Repair the few boundaries pysbd gets wrong for names, clock times and Russian years."""
    titles = _NAME_TITLES.get(lang, frozenset())
    fixed: list[str] = []
    for segment in segments:
        if lang in ("ru", "bg"):
            parts = [p for p in _RU_YEAR_END_RE.split(segment) if p.strip()]
        else:
            parts = [segment]
        for part in parts:
            if fixed and _continues(fixed[-1], part, titles):
                fixed[-1] = f"{fixed[-1]} {part}"
            else:
                fixed.append(part)
    return fixed


def _continues(previous: str, segment: str, titles: frozenset[str]) -> bool:
    """Tell whether segment wrongly starts a sentence that previous had not finished."""
    if titles:
        match = _LAST_WORD_RE.search(previous)
        if match and match.group(1).lower() in titles:
            return True
    # "at 4 p.m. Monday." ends one sentence, not two.
    return bool(_CLOCK_END_RE.search(previous) and _CLOCK_CONTINUATION_RE.match(segment))


def _segment(text: str, lang: str) -> list[str]:
    """Segment text with pysbd and return stripped, non-empty sentences."""
    # Segmenter.segment() maps every sentence back to the input with a regex
    # built from the sentence, which costs as much as the segmentation itself;
    # sentences are stripped here anyway, so the processor's output is enough.
    raw = [s.strip() for s in _segmenter(lang).processor(text).process()]
    return _fix_segments([s for s in raw if s], lang)


def iter_paragraph_sentences(
    paragraph: str, *, lang: str, window: int = FULL_WINDOW_CHARS, partial: bool = False
) -> Iterator[tuple[str, bool]]:
    """Yield (sentence, complete) pairs of one paragraph, segmenting it window by window.

    The last sentence of a window may be cut short by the window's end, so it
    is held back and segmented again at the start of the next window. With
    partial, that cut-short text is also yielded, flagged incomplete, before
    the next window: a caller filling a budget can stop there without paying
    for another window.
    """
    start = 0
    size = window
    length = len(paragraph)
    while start < length:
        end = start + size
        cut = -1 if end >= length else _next_space(paragraph, end)
        if cut == -1:
            for sentence in _segment(paragraph[start:], lang):
                yield sentence, True
            return
        chunk = paragraph[start:cut]
        sentences = _segment(chunk, lang)
        held = _start_of_last(chunk, sentences)
        if held <= 0:
            # One sentence fills the whole window: look further.
            if partial:
                yield chunk.strip(), False
            size *= 2
            continue
        for sentence in sentences[:-1]:
            yield sentence, True
        if partial:
            yield chunk[held:].strip(), False
        start += held
        size = window


def _start_of_last(chunk: str, sentences: list[str]) -> int:
    """Return where the last of several sentences starts in chunk, or -1."""
    if len(sentences) < 2:
        return -1
    last = sentences[-1]
    index = chunk.rfind(last)
    if index == -1:
        index = chunk.rfind(last[:20])
    return index


def _next_space(text: str, index: int) -> int:
    """Return the index of the first whitespace at or after index, or -1."""
    for position in range(index, len(text)):
        if text[position].isspace():
            return position
    return -1


def iter_sentences(
    paragraphs: Iterable[str],
    *,
    lang: str,
    window: int = FULL_WINDOW_CHARS,
    partial: bool = False,
) -> Iterator[tuple[int, str, bool]]:
    """Yield (paragraph index, sentence, complete) lazily, in reading order."""
    for index, paragraph in enumerate(paragraphs):
        for sentence, complete in iter_paragraph_sentences(
            paragraph, lang=lang, window=window, partial=partial
        ):
            yield index, sentence, complete


def split_sentences(text: str, *, lang: str | None = None) -> list[str]:
    """Split text into sentences, guessing the language when not given."""
    paragraphs = split_paragraphs(text)
    if not paragraphs:
        return []
    language = resolve_language(" ".join(paragraphs[:5]), lang)
    return [sentence for _, sentence, _ in iter_sentences(paragraphs, lang=language)]
