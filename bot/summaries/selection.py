"""Pick the sentences after the lede: the ones that cover what the whole story keeps talking about.

Lead sentences are a strong summary of news, but the second and third sentences are often a
quote, an aside or scene-setting. After the lede, sentences from the head of the story are
added greedily by the story words they bring (words the summary has count a fifth), each
weighted by how often the story repeats it, per square root of the sentence's length, with a
discount for lateness and quotes.
A sentence that brings too little is left out, and one that leans on the sentence before it
("He said…", "But…") only joins right after that sentence.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.summaries.lang import CJK_RE, word_set
from bot.summaries.lede import leans_on_previous, stem, tokens

# Set on news articles with reference summaries (bench/summaries.py), where a range around
# each value does about as well and the gain holds on both halves of the set.
# How fast a sentence's value falls with its position (1 / (1 + discount * position)):
POSITION_DISCOUNT = 1.0
# The least value a sentence must have to be worth its characters:
MIN_VALUE = 0.05
# A sentence all in quotation marks is worth this much less:
QUOTE_DISCOUNT = 0.5
# A story word the summary already has still counts this much (saying more about the
# lede's subject beats changing it):
COVERED = 0.2
# A word's weight is (times the story says it - 1) ** WEIGHT_POWER; a sentence's value is
# divided by its length ** LENGTH_POWER.
WEIGHT_POWER = 0.5
LENGTH_POWER = 0.5
# Only the head of a long text is read for word counts: enough for any news story.
WEIGHT_SAMPLE_CHARS = 20000

_QUOTE_RE = re.compile(r"\"[^\"]{3,}\"|“[^”]{3,}”|«[^»]{3,}»|„[^“”]{3,}[“”]")
_STOPWORDS = word_set(
    "a an the and or but of to in on at for with by from as is are was were be been being "
    "it its this that these those he she they his her their them him we you i our your my me "
    "us who whom which what when where why how not no so if than then there here has have had "
    "do does did will would can could should may might must said says say also just about "
    "after before over into out up down more most some any all one two new "
    "der die das und oder ein eine einer von zu im mit auf für ist sind war wurde nicht sich "
    "el la los las y o de del en que un una por con para es se al lo como más "
    "le les des et un une du au aux pour dans sur est sont pas qui par avec "
    "il lo gli di da che per non sono con una "
    "и в во на с со по к о об от до из за что как это не но а его ее её их он она они"
)


def content_words(text: str) -> list[str]:
    """Return the stemmed words of text that carry meaning."""
    return [
        stem(w)
        for w in tokens(text)
        if w not in _STOPWORDS and (len(w) > 2 or w.isdigit() or CJK_RE.match(w))
    ]


def word_weights(text: str) -> dict[str, float]:
    """Weight each word by how often the story repeats it; a word said once weighs nothing."""
    counts = Counter(content_words(text[:WEIGHT_SAMPLE_CHARS]))
    return {word: (count - 1) ** WEIGHT_POWER for word, count in counts.items() if count > 1}


def quote_share(sentence: str) -> float:
    """Return the share of a sentence's characters inside quotation marks."""
    quoted = sum(len(match) for match in _QUOTE_RE.findall(sentence))
    return quoted / max(len(sentence), 1)


@dataclass(frozen=True)
class Candidate:
    """A whole sentence that may join the summary, in reading order."""

    text: str
    # The sentence before it in the same paragraph, if any, so leaning can be checked.
    follows: int | None


def choose_sentences(
    candidates: Sequence[Candidate],
    *,
    weights: dict[str, float],
    room: int,
    taken: Iterable[int] = (),
) -> list[int]:
    """Return the indexes of the candidates to add after the lede, in reading order.

    room is the number of characters left after the lede; each added sentence also
    takes one space. Candidates in taken are already in the summary (the lede).
    """
    chosen = set(taken)
    have: set[str] = set()
    for index in chosen:
        have.update(content_words(candidates[index].text))
    words = [set(content_words(c.text)) for c in candidates]
    open_ = [i for i in range(len(candidates)) if i not in chosen]
    while open_:
        best, best_value = -1, MIN_VALUE
        for index in open_:
            candidate = candidates[index]
            if len(candidate.text) + 1 > room:
                continue
            if leans_on_previous(candidate.text) and candidate.follows not in chosen:
                continue
            fresh = sum(weights.get(word, 0.0) for word in words[index] - have)
            if not fresh:
                continue  # says nothing the summary has not said
            gain = fresh + COVERED * sum(weights.get(word, 0.0) for word in words[index] & have)
            value = (
                gain
                / len(candidate.text) ** LENGTH_POWER
                / (1 + POSITION_DISCOUNT * index)
                * (1 - QUOTE_DISCOUNT * quote_share(candidate.text))
            )
            if value > best_value:
                best, best_value = index, value
        if best < 0:
            break
        chosen.add(best)
        open_.remove(best)
        have |= words[best]
        room -= len(candidates[best].text) + 1
    return sorted(chosen - set(taken))
