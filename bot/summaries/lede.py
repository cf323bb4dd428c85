"""The lede rule: when a story's first sentence only repeats its headline, and when it must stay."""

from __future__ import annotations

import re
from functools import lru_cache

from bot.summaries.lang import CJK_RE, word_set

# Share of the sentence's words, in the headline's order, that makes it a word-for-word repeat.
_REPEAT_SHARE = 0.8

_TOKEN_RE = re.compile(r"[^\W_]+")
_FIRST_WORD_RE = re.compile(r"^[\"'“‘«„(\[]*([^\W\d_]+)")

# Words that open a sentence which leans on the one before it: pronouns, demonstratives and
# connectives ("Well, sort of.", "It was the third attempt.", "But officials disagreed.").
_LEANING_WORDS = word_set(
    # English
    "he she it they him her them his hers its their theirs this that these those such "
    "but and yet so or nor however meanwhile still also moreover furthermore instead then "
    "there here both neither thus hence therefore besides nevertheless nonetheless otherwise "
    "likewise similarly indeed well now later afterwards earlier even "
    # German
    "er sie es ihr ihre sein seine dies diese dieser dieses das aber und doch jedoch dann "
    "dort deshalb daher trotzdem außerdem zudem auch "
    # Spanish, Portuguese, Italian
    "él ella ellos ellas ello esto esta este estos estas eso esa ese pero sin embargo "
    "además también luego entonces allí así ele ela eles elas isso isto mas porém "
    "lui lei loro questo questa quello quella ma però inoltre anche poi quindi "
    # French
    "il elle ils elles ce cette ces cela mais et pourtant cependant ensuite alors aussi "
    # Dutch
    "hij zij ze het dit deze dat maar en toch echter ook daarna "
    # Russian
    "он она оно они его ее её их это этот эта эти но и однако также тогда там поэтому"
)
# Openings of more than one word that lean the same way.
_LEANING_OPENINGS = (
    "in addition",
    "as a result",
    "in response",
    "in contrast",
    "by contrast",
    "even so",
    "in turn",
    "on the other hand",
    "at the same time",
    "for his part",
    "for her part",
    "for its part",
    "for their part",
    "despite this",
    "despite that",
    "apart from that",
)
_OPENING_WORDS_RE = re.compile(r"^[\"'“‘«„(\[]*((?:[^\W\d_]+\W+){1,4})")
_STOPWORDS = word_set(
    "a an the and or of to in on at for with by from as is are was were be been being it its "
    "this that der die das und ein eine von zu im el la los las y de del en que le les des et"
)


def tokens(text: str) -> list[str]:
    """Return lowercase word tokens, one per character for Chinese and Japanese."""
    found: list[str] = _TOKEN_RE.findall(text.lower())
    if not CJK_RE.search(text):
        return found
    result: list[str] = []
    for token in found:
        if CJK_RE.search(token):
            result.extend(token)
        else:
            result.append(token)
    return result


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Return a crude stem, so "investigating" and "investigates" compare equal."""
    for suffix in ("ing", "ed", "es", "s"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def _content(text: str) -> list[str]:
    """Return the stemmed meaningful tokens of text, in order."""
    words = tokens(text)
    content = [stem(w) for w in words if w not in _STOPWORDS]
    return content or [stem(w) for w in words]


def _common_subsequence(a: list[str], b: list[str]) -> int:
    """Return the length of the longest common subsequence of two token lists."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def repeats_headline(sentence: str, headline: str | None) -> bool:
    """Tell whether a sentence says the headline again nearly word for word, in its order."""
    if not headline:
        return False
    said, title = _content(sentence), _content(headline)
    if not said or not title:
        return False
    shared = _common_subsequence(said, title)
    return shared >= _REPEAT_SHARE * len(said) and shared >= _REPEAT_SHARE * len(title)


def leans_on_previous(sentence: str) -> bool:
    """Tell whether a sentence needs the one before it to make sense."""
    match = _FIRST_WORD_RE.match(sentence)
    if match is None:
        return False
    if match.group(1).lower() in _LEANING_WORDS:
        return True
    opening = _OPENING_WORDS_RE.match(sentence)
    if opening is None:
        return False
    words = " ".join(tokens(opening.group(1)))
    return any(words.startswith(phrase) for phrase in _LEANING_OPENINGS)


def skips_lede(first: str, second: str | None, headline: str | None) -> bool:
    """Tell whether to leave out a first sentence: it repeats the headline and nothing needs it."""
    if not repeats_headline(first, headline):
        return False
    return second is None or not leans_on_previous(second)
