"""Match entries against topic queries, one at a time or through an index of topics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, compress, pairwise
from operator import itemgetter
from typing import Protocol, TypeAlias

from bot.topics.query import Query, Term, fold_tokens


@dataclass(frozen=True, slots=True)
class Document:
    """An entry prepared for matching: folded tokens per field and all of them as a set."""

    fields: tuple[tuple[str, ...], ...]
    tokens: frozenset[str]

    @classmethod
    def from_fields(
        cls, *, title: str, summary: str = "", categories: Iterable[str] = ()
    ) -> Document:
        """Fold the title, summary and each category into a separate field."""
        if isinstance(categories, str):
            categories = (categories,)
        fields = tuple(tuple(fold_tokens(text)) for text in (title, summary, *categories))
        return cls(fields=fields, tokens=frozenset(chain.from_iterable(fields)))


class StoryText(Protocol):
    """What topics read of a stored story (a bot.db Entry has these fields)."""

    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...  # the feed's own blurb
    @property
    def summary(self) -> str: ...
    @property
    def categories(self) -> str: ...  # newline-separated


def document_for(entry: StoryText) -> Document:
    """Return the story as every topic match sees it: live alerts, /testtopic and /latest.

    The headline, the feed's blurb with the summary, and each category.
    """
    return Document.from_fields(
        title=entry.title,
        summary=f"{entry.description}\n{entry.summary}",
        categories=entry.categories.split("\n") if entry.categories else (),
    )


def _occurs(term: Term, doc: Document) -> bool:
    """Tell whether term occurs in one field of doc, by plain scanning."""
    if len(term) == 1:
        return term[0] in doc.tokens
    size = len(term)
    return any(
        field[i : i + size] == term for field in doc.fields for i in range(len(field) - size + 1)
    )


def matches(query: Query, doc: Document) -> bool:
    """Tell whether doc matches query, checking every term directly."""
    if any(_occurs(term, doc) for term in query.exclusions):
        return False
    return any(all(_occurs(term, doc) for term in alt) for alt in query.alternatives)


def _has_phrase(fields: tuple[tuple[str, ...], ...], phrase: Term) -> bool:
    """Tell whether phrase occurs inside one field, jumping between its first word."""
    first, size = phrase[0], len(phrase)
    for words in fields:
        i = -1
        # count() first, so index() never raises: exceptions are slow on this path.
        for _ in range(words.count(first)):
            i = words.index(first, i + 1)
            if words[i : i + size] == phrase:
                return True
    return False


Pair: TypeAlias = tuple[str, str]

# An alternative to check once its key is found: topic id, its other required tokens,
# the adjacent pairs its phrases need, its phrases of three words or more, and the
# topic's excluded words, excluded two-word phrases and longer excluded phrases.
_Check: TypeAlias = tuple[
    int,
    tuple[str, ...],
    tuple[Pair, ...],
    tuple[Term, ...],
    tuple[str, ...],
    tuple[Pair, ...],
    tuple[Term, ...],
]


_OTHERS = itemgetter(1)


def _required_tokens(alternative: tuple[Term, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(chain.from_iterable(alternative)))


def _pairs(terms: Iterable[Term]) -> tuple[Pair, ...]:
    """Return the distinct adjacent pairs of tokens in terms."""
    return tuple(dict.fromkeys(chain.from_iterable(pairwise(t) for t in terms)))


def _doc_pairs(fields: tuple[tuple[str, ...], ...]) -> set[Pair]:
    """Return every adjacent pair of tokens inside one field of a document."""
    pairs: set[Pair] = set()
    for words in fields:
        pairs.update(pairwise(words))
    return pairs


def _has_phrases(fields: tuple[tuple[str, ...], ...], phrases: tuple[Term, ...]) -> bool:
    # A plain loop: all() over a generator costs more on this hot path.
    for phrase in phrases:  # noqa: SIM110
        if not _has_phrase(fields, phrase):
            return False
    return True


def _has_any_phrase(
    pairs: set[Pair], fields: tuple[tuple[str, ...], ...], phrases: tuple[Term, ...]
) -> bool:
    return any(pairs.issuperset(pairwise(p)) and _has_phrase(fields, p) for p in phrases)


class TopicIndex:
    """Index of distinct topics: matching one entry costs about the entry's length,
    not the number of topics.

    Each alternative of a query is filed under one of its required tokens, the one
    fewest indexed alternatives use (ties go to the longer, usually rarer word). An
    entry looks up only its own distinct tokens: a one-word alternative without
    exclusions matches outright, the few others filed there are checked in full.
    """

    __slots__ = ("_checks", "_counts", "_direct", "_topics")

    def __init__(self) -> None:
        # Topics whose query matches whenever the key token is present.
        self._direct: dict[str, list[int]] = {}
        # Alternatives that need checking beyond their key token.
        self._checks: dict[str, list[_Check]] = {}
        # How many indexed alternatives require each token.
        self._counts: dict[str, int] = {}
        # Each topic's required tokens, as counted above, then "" and the keys it is filed
        # under (removing it visits only those lists); one flat tuple keeps memory low.
        self._topics: dict[int, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._topics)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._topics

    def add(self, topic_id: int, query: Query) -> None:
        """Index query under topic_id, replacing what the id held before.

        Costs about the query's size, however many topics are indexed.
        """
        if topic_id in self._topics:
            self.remove(topic_id)
        counts = self._counts
        required = [_required_tokens(alt) for alt in query.alternatives]
        for token in chain.from_iterable(required):
            counts[token] = counts.get(token, 0) + 1
        exclusions = query.exclusions
        excluded_words = tuple(term[0] for term in exclusions if len(term) == 1)
        excluded_pairs = tuple((term[0], term[1]) for term in exclusions if len(term) == 2)
        excluded_long = tuple(term for term in exclusions if len(term) > 2)
        keys: list[str] = []
        for alt, tokens in zip(query.alternatives, required, strict=True):
            key = min(tokens, key=lambda t: (counts[t], -len(t), t))
            keys.append(key)
            if len(alt) == 1 and len(alt[0]) == 1 and not exclusions:
                self._direct.setdefault(key, []).append(topic_id)
                continue
            check: _Check = (
                topic_id,
                tuple(t for t in tokens if t != key),
                _pairs(alt),
                tuple(term for term in alt if len(term) > 2),
                excluded_words,
                excluded_pairs,
                excluded_long,
            )
            self._checks.setdefault(key, []).append(check)
        self._topics[topic_id] = (*chain.from_iterable(required), "", *dict.fromkeys(keys))

    def remove(self, topic_id: int) -> None:
        """Forget topic_id; do nothing if it is not indexed."""
        filed = self._topics.pop(topic_id, None)
        if filed is None:
            return
        split = filed.index("")  # tokens are never empty
        required, keys = filed[:split], filed[split + 1 :]
        for key in keys:
            ids = self._direct.get(key)
            if ids is not None and topic_id in ids:
                ids = [i for i in ids if i != topic_id]
                if ids:
                    self._direct[key] = ids
                else:
                    del self._direct[key]
            checks = self._checks.get(key)
            if checks is not None and any(check[0] == topic_id for check in checks):
                checks = [check for check in checks if check[0] != topic_id]
                if checks:
                    self._checks[key] = checks
                else:
                    del self._checks[key]
        counts = self._counts
        for token in required:
            counts[token] -= 1
            if not counts[token]:
                del counts[token]

    def match(self, doc: Document) -> set[int]:
        """Return the ids of the topics whose query matches doc."""
        tokens, fields = doc.tokens, doc.fields
        direct, checks = self._direct, self._checks
        # dict.keys() & frozenset walks the entry's tokens, not the index.
        found = set(chain.from_iterable(map(direct.__getitem__, direct.keys() & tokens)))
        issuperset, isdisjoint = tokens.issuperset, tokens.isdisjoint
        pairs: set[Pair] | None = None  # built once the first phrase needs it
        candidates = list(chain.from_iterable(map(checks.__getitem__, checks.keys() & tokens)))
        # Most candidates lack another required token: weed them out without a
        # Python-level step per candidate.
        candidates_ok = compress(candidates, map(issuperset, map(_OTHERS, candidates)))
        # Inlined rather than a helper per candidate: this loop is the hot path.
        for topic_id, _, need, long, words, excluded_pairs, excluded_long in candidates_ok:
            if words and not isdisjoint(words):
                continue
            if need or excluded_pairs or excluded_long:
                if pairs is None:
                    pairs = _doc_pairs(fields)
                if need and not pairs.issuperset(need):
                    continue
                if long and not _has_phrases(fields, long):
                    continue
                if excluded_pairs and not pairs.isdisjoint(excluded_pairs):
                    continue
                if excluded_long and _has_any_phrase(pairs, fields, excluded_long):
                    continue
            found.add(topic_id)
        return found
