"""Cheap language guess from script and common words, good enough to pick a segmenter."""

from __future__ import annotations

import re
from collections import Counter

DEFAULT_LANGUAGE = "en"

# Only the head of a text matters: a few hundred letters settle the script and
# the function words of any real article.
_SAMPLE_CHARS = 1500
_LATIN_SAMPLE_CHARS = 600

_LATIN_WORD_RE = re.compile(r"[^\W\d_]+")
# Chinese and Japanese characters, each a word of its own for counting.
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
# Scripts written without spaces between words: Thai, Lao, Myanmar, Chinese, Japanese.
UNSPACED_RE = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def word_set(words: str) -> frozenset[str]:
    """Return the set of space-separated words in a string."""
    return frozenset(words.split())


# Frequent function words that are (nearly) unique to one language. Shared
# words such as "a", "de" or "in" are left out so they can't tip the balance.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": word_set(
        "the and of to is was that for with said from have has were this by which their "
        "been are its would after who"
    ),
    "de": word_set(
        "der die das und ist nicht mit sich auf dem den ein eine auch wird sind bei nach "
        "wurde von zu im dass"
    ),
    "es": word_set(
        "el los las del que por para una con como pero más fue según este esta sus entre "
        "también ha han"
    ),
    "fr": word_set(
        "le les des est une pour dans qui sur pas avec sont mais ont été cette selon aux du au"
    ),
    "it": word_set("il gli della che per sono dei nel alla anche come è stato degli delle più"),
    "nl": word_set(
        "het een van niet zijn voor dat met ook maar wordt werd bij naar heeft hebben deze"
    ),
}

# Persian and Urdu add letters to the Arabic alphabet.
_PERSIAN_LETTERS = frozenset("پچژگکی")
_URDU_LETTERS = frozenset("ٹڈڑںےھ")


_SCRIPT_RES: dict[str, re.Pattern[str]] = {
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufeff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "armenian": re.compile(r"[\u0530-\u058f]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "myanmar": re.compile(r"[\u1000-\u109f]"),
    "ethiopic": re.compile(r"[\u1200-\u137f]"),
}
_LETTER_RE = re.compile(r"[^\W\d_]")


_LANGUAGE_OF_WORD = {word: lang for lang, words in _STOPWORDS.items() for word in words}


def _latin_language(sample: str) -> str:
    """Guess a Latin-script language by counting its characteristic words."""
    scores = Counter(
        _LANGUAGE_OF_WORD.get(word, "") for word in _LATIN_WORD_RE.findall(sample.lower())
    )
    del scores[""]
    if not scores:
        return DEFAULT_LANGUAGE
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == scores[DEFAULT_LANGUAGE]:
        return DEFAULT_LANGUAGE
    return best


def detect_language(text: str) -> str:
    """Return a segmenter language code for text; fall back to English."""
    sample = text[:_SAMPLE_CHARS]
    if not sample.isascii():
        scripts = {name: len(regex.findall(sample)) for name, regex in _SCRIPT_RES.items()}
        letters = max(len(_LETTER_RE.findall(sample)), 1)
        # Kana marks Japanese even when most characters are Han.
        if scripts["kana"] and scripts["kana"] * 10 >= scripts["han"]:
            scripts["kana"] += scripts.pop("han")
        script = max(scripts, key=lambda name: scripts[name])
        if scripts[script] * 2 >= letters:
            return _language_of_script(script, sample)
    return _latin_language(sample[:_LATIN_SAMPLE_CHARS])


def _language_of_script(script: str, sample: str) -> str:
    """Map a dominant script to the language most likely written in it."""
    if script == "arabic":
        if any(c in _URDU_LETTERS for c in sample):
            return "ur"
        if any(c in _PERSIAN_LETTERS for c in sample):
            return "fa"
        return "ar"
    if script == "cyrillic":
        # Bulgarian has no ы or э but uses ъ as a vowel.
        if "ы" not in sample and "э" not in sample and sample.count("ъ") >= 2:
            return "bg"
        return "ru"
    return {
        "kana": "ja",
        "han": "zh",
        "greek": "el",
        "armenian": "hy",
        "devanagari": "hi",
        "myanmar": "my",
        "ethiopic": "am",
    }.get(script, DEFAULT_LANGUAGE)
