"""Lead-biased extractive summaries: the story's lede and its best next sentences in a budget."""

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
from bot.summaries.fragments import (
    ELLIPSIS,
    ends_mid_clause,
    sentence_problem,
    starts_like_sentence,
)
from bot.summaries.lang import CJK_RE
from bot.summaries.lede import skips_lede, tokens
from bot.summaries.selection import Candidate, choose_sentences, word_weights
from bot.summaries.sentences import (
    iter_sentences,
    resolve_language,
    split_paragraphs,
    split_sentences,
)

DEFAULT_MAX_CHARS = 400

# Windows a little longer than the budget: a sentence that fills a whole
# window is too long for the budget anyway, and cut at a clause.
_WINDOW_MARGIN = 10
_LANGUAGE_SAMPLE_CHARS = 1500
# Sentences after the lede are picked from the story's head: this many budgets of text.
_POOL_BUDGETS = 2.5
# A clause cut keeps at least this share of the budget, or falls back to a word cut.
_MIN_CLAUSE_SHARE = 0.4

_WIDE_STOPS = frozenset("。！？」』”）")
_CLAUSE_RE = re.compile(r"[,;:，、；：]\s?|\s(?:--|—|–|-)\s|\s\(|\s\[")
_TRAILING_JUNK_RE = re.compile(r"[\s,;:—–\-(\[\"'“‘«]+$")


def _without_dangling_end(head: str) -> str:
    """Drop trailing punctuation and words no clause ends with ("the", "of", "and")."""
    while True:
        head = _TRAILING_JUNK_RE.sub("", head)
        if " " not in head or not ends_mid_clause(head):
            return head
        head = head.rsplit(" ", 1)[0]


def _cut_words(text: str, limit: int) -> str:
    """Return text cut at the last word boundary within limit characters."""
    head = text[: limit + 1]
    space = head.rfind(" ")
    if space > 0 and not CJK_RE.search(head[space - 1 : space + 2]):
        return _without_dangling_end(head[:space])
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
    head = _without_dangling_end(head)
    return f"{head}{ELLIPSIS}" if head else ""


def join_sentences(sentences: list[str]) -> str:
    """Join sentences with spaces, except after Chinese and Japanese full stops."""
    text = ""
    for sentence in sentences:
        if not sentence:
            continue
        if text and not (text[-1] in _WIDE_STOPS and CJK_RE.match(sentence)):
            text += " "
        text += sentence
    return text


def _same_text(a: str, b: str) -> bool:
    """Tell whether two texts have the same words."""
    return tokens(a) == tokens(b)


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


@dataclass
class _Pool:
    """The whole, clean sentences at the head of a story, or the cut lede of a long one."""

    candidates: list[Candidate] = field(default_factory=list)
    cut_lede: str = ""
    # The story ended before the pool was full: too short for its word counts to mean much.
    whole_story: bool = True


def _cut_lede(sentence: str, max_chars: int) -> str:
    """Cut a first sentence that is too long at a clause, or return "" if no whole cut exists."""
    if not starts_like_sentence(sentence):
        return ""
    cut = cut_at_clause(sentence, max_chars)
    return "" if sentence_problem(cut) else cut


def _read_pool(text: str, *, lang: str, max_chars: int) -> _Pool:
    """Collect the story's first whole sentences, about _POOL_BUDGETS budgets of them.

    A sentence is a candidate only if it is whole (see fragments.py) and not clutter; one
    that is left out breaks the chain a leaning sentence needs. A first sentence longer
    than the budget is cut at a clause instead, and is then the whole summary.
    """
    pool = _Pool()
    limit = int(max_chars * _POOL_BUDGETS)
    read = 0
    follows: int | None = None
    sentences = iter_sentences(
        clean_paragraphs(text), lang=lang, window=max_chars + _WINDOW_MARGIN, partial=True
    )
    for _, sentence, complete in sentences:
        first = not pool.candidates
        if not complete:
            # The unfinished rest of a window: a first sentence that long is cut at a clause.
            if first and len(sentence) > max_chars:
                sentence = strip_dateline(sentence)
                if not is_clutter(sentence):
                    pool.cut_lede = _cut_lede(sentence, max_chars)
                    if pool.cut_lede:
                        return pool
            continue
        sentence = remove_inline_credits(sentence)
        if first:
            sentence = strip_dateline(sentence)
        if not sentence or is_clutter(sentence) or sentence_problem(sentence):
            follows = None
            continue
        if first and len(sentence) > max_chars:
            pool.cut_lede = _cut_lede(sentence, max_chars)
            if pool.cut_lede:
                return pool
            continue
        pool.candidates.append(Candidate(sentence, follows))
        follows = len(pool.candidates) - 1
        read += len(sentence) + 1
        if read >= limit:
            pool.whole_story = False
            break
    return pool


def _in_order(candidates: list[Candidate], max_chars: int) -> list[str]:
    """Return the first sentences that fit, in order: the summary of a short story."""
    budget = _Budget(max_chars)
    for candidate in candidates:
        if len(candidate.text) > budget.room:
            break
        budget.add(candidate.text)
    return budget.chosen


def _without_first(candidates: list[Candidate]) -> list[Candidate]:
    """Drop the first candidate and renumber what the others follow."""
    return [Candidate(c.text, c.follows - 1 if c.follows else None) for c in candidates[1:]]


def summarize_text(
    text: str, *, title: str | None = None, max_chars: int = DEFAULT_MAX_CHARS
) -> str:
    """Summarize a story: its lede, then the sentences that cover the story best.

    A short story (shorter than the few budgets of text sentences are picked from) gives
    its first sentences in order. Returns "" when the text holds no whole sentence. The
    first sentence is left out only when it repeats the headline nearly word for word and
    the next one does not lean on it.
    """
    _check_budget(max_chars)
    lang = resolve_language(text[:_LANGUAGE_SAMPLE_CHARS], None)
    pool = _read_pool(text, lang=lang, max_chars=max_chars)
    if pool.cut_lede:
        summary = pool.cut_lede
    else:
        candidates = pool.candidates
        if not candidates:
            return ""
        second = candidates[1].text if len(candidates) > 1 else None
        if skips_lede(candidates[0].text, second, title):
            candidates = _without_first(candidates)
            if not candidates:
                return ""
        lede = candidates[0].text
        if len(lede) > max_chars:
            summary = _cut_lede(lede, max_chars)
        elif pool.whole_story:
            summary = join_sentences(_in_order(candidates, max_chars))
        else:
            rest = choose_sentences(
                candidates, weights=word_weights(text), room=max_chars - len(lede), taken=(0,)
            )
            summary = join_sentences([lede, *(candidates[i].text for i in rest)])
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
