"""Lead-biased extractive summaries: the story's first clean sentences within a budget."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.summaries.clutter import (
    clean_paragraphs,
    is_clutter,
    remove_inline_credits,
    strip_dateline,
)
from bot.summaries.extract import extract_page
from bot.summaries.lang import word_set
from bot.summaries.sentences import (
    iter_sentences,
    resolve_language,
    split_paragraphs,
    split_sentences,
)

DEFAULT_MAX_CHARS = 400
ELLIPSIS = "…"

# Windows a little longer than the budget: a sentence that fills a whole
# window is too long for the budget anyway, and cut at a clause.
_WINDOW_MARGIN = 10
_LANGUAGE_SAMPLE_CHARS = 1500
# A first sentence this similar to the headline only repeats it.
_TITLE_OVERLAP = 0.75
# A clause cut keeps at least this share of the budget, or falls back to a word cut.
_MIN_CLAUSE_SHARE = 0.4

_TOKEN_RE = re.compile(r"[^\W_]+")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_WIDE_STOPS = frozenset("。！？」』”）")
_CLAUSE_RE = re.compile(r"[,;:，、；：]\s?|\s(?:--|—|–|-)\s|\s\(|\s\[")
_TRAILING_JUNK_RE = re.compile(r"[\s,;:—–\-(\[\"'“‘«]+$")
_DANGLING_WORDS = word_set(
    "a an the and or but of to in on at for with by from that as is was "
    "der die das und oder von zu im el la los las y o de del en que"
)
_STOPWORDS = word_set(
    "a an the and or of to in on at for with by from as is are was were be it its this that "
    "der die das und ein eine von zu im el la los las y de del en que le les des et"
)


def _tokens(text: str) -> list[str]:
    """Return lowercase word tokens, one per character for Chinese and Japanese."""
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(text.lower()):
        if _CJK_RE.search(token):
            tokens.extend(token)
        else:
            tokens.append(token)
    return tokens


def _content_tokens(text: str) -> set[str]:
    """Return the set of tokens of text that carry meaning."""
    tokens = set(_tokens(text))
    content = tokens - _STOPWORDS
    return content or tokens


def title_tokens_of(title: str) -> set[str]:
    """Return the meaningful tokens of a headline, for repeats_title."""
    return _content_tokens(title)


def repeats_title(sentence: str, title_tokens: set[str]) -> bool:
    """Tell whether a sentence merely repeats the headline."""
    if not title_tokens:
        return False
    tokens = _content_tokens(sentence)
    if not tokens:
        return False
    return len(tokens & title_tokens) / len(tokens) >= _TITLE_OVERLAP


def _cut_words(text: str, limit: int) -> str:
    """Return text cut at the last word boundary within limit characters."""
    head = text[: limit + 1]
    space = head.rfind(" ")
    if space > 0 and not _CJK_RE.search(head[space - 1 : space + 2]):
        head = head[:space]
        words = head.split()
        while len(words) > 1 and words[-1].lower() in _DANGLING_WORDS:
            words.pop()
        return " ".join(words)
    # No space to cut at (Chinese, Japanese or one giant token).
    return head[:limit]


def cut_at_clause(sentence: str, max_chars: int) -> str:
    """Shorten a sentence to max_chars at a clause boundary and mark the cut with "…"."""
    if len(sentence) <= max_chars:
        return sentence
    limit = max_chars - len(ELLIPSIS)
    best = -1
    for match in _CLAUSE_RE.finditer(sentence, 0, limit + 1):
        if match.start() <= limit:
            best = match.start()
    head = sentence[:best] if best >= max_chars * _MIN_CLAUSE_SHARE else _cut_words(sentence, limit)
    head = _TRAILING_JUNK_RE.sub("", head)
    return f"{head}{ELLIPSIS}" if head else ""


def join_sentences(sentences: list[str]) -> str:
    """Join sentences with spaces, except after Chinese and Japanese full stops."""
    text = ""
    for sentence in sentences:
        if not sentence:
            continue
        if text and not (text[-1] in _WIDE_STOPS and _CJK_RE.match(sentence)):
            text += " "
        text += sentence
    return text


def _same_text(a: str, b: str) -> bool:
    """Tell whether two texts have the same words."""
    return _tokens(a) == _tokens(b)


@dataclass
class _Budget:
    """Sentences chosen so far and the characters they take, spaces included."""

    max_chars: int
    chosen: list[str] = field(default_factory=list)
    used: int = 0

    @property
    def room(self) -> int:
        """Characters left for the next sentence and the space before it."""
        return self.max_chars - self.used - (1 if self.chosen else 0)

    def add(self, sentence: str) -> None:
        """Take a sentence that fits."""
        self.used += len(sentence) + (1 if self.chosen else 0)
        self.chosen.append(sentence)

    def text(self) -> str:
        """Return the chosen sentences as one text."""
        return join_sentences(self.chosen)


def _check_budget(max_chars: int) -> None:
    """Refuse a budget that can't hold any text."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")


def summarize_text(
    text: str, *, title: str | None = None, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """Summarize a story with its first clean sentences; return "" when nothing is usable."""
    _check_budget(max_chars)
    lang = resolve_language(text[:_LANGUAGE_SAMPLE_CHARS], None)
    title_tokens = _content_tokens(title) if title else set()
    budget = _Budget(max_chars)
    sentences = iter_sentences(
        clean_paragraphs(text), lang=lang, window=max_chars + _WINDOW_MARGIN, partial=True
    )
    for _, sentence, complete in sentences:
        if not complete:
            # The unfinished rest of a window: stop if even this part can't fit.
            if len(sentence) > budget.room:
                if not budget.chosen:
                    budget.add(cut_at_clause(strip_dateline(sentence), max_chars))
                break
            continue
        sentence = remove_inline_credits(sentence)
        if not budget.chosen:
            sentence = strip_dateline(sentence)
        if not sentence or is_clutter(sentence) or repeats_title(sentence, title_tokens):
            continue
        if len(sentence) <= budget.room:
            budget.add(sentence)
            continue
        if not budget.chosen:
            budget.add(cut_at_clause(sentence, max_chars))
        break
    summary = budget.text()
    if title and _same_text(summary.removesuffix(ELLIPSIS), title):
        return ""
    return summary


def fit_to_budget(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Keep text's whole sentences up to max_chars, cutting a too-long first one at a clause."""
    _check_budget(max_chars)
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    budget = _Budget(max_chars)
    for sentence in split_sentences(text):
        if len(sentence) > budget.room:
            if not budget.chosen:
                budget.add(cut_at_clause(sentence, max_chars))
            break
        budget.add(sentence)
    return budget.text()


def summarize_html(
    html: str,
    *,
    title: str | None = None,
    url: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """Summarize a web page (or plain text); the page's own headline is used when none is given."""
    page = extract_page(html, url=url)
    if page is None:
        return ""
    return summarize_text(page.text, title=title or page.title, max_chars=max_chars)


def lead_baseline(text: str, *, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Return the text's first sentences up to max_chars, as they stand, with no cleaning."""
    _check_budget(max_chars)
    lang = resolve_language(text[:_LANGUAGE_SAMPLE_CHARS], None)
    budget = _Budget(max_chars)
    sentences = iter_sentences(
        split_paragraphs(text), lang=lang, window=max_chars + _WINDOW_MARGIN, partial=True
    )
    for _, sentence, complete in sentences:
        if len(sentence) <= budget.room:
            if complete:
                budget.add(sentence)
            continue
        if not budget.chosen:
            budget.add(_cut_words(sentence, max_chars - len(ELLIPSIS)) + ELLIPSIS)
        break
    return budget.text()
