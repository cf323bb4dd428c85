"""After the lede: sentences that cover the story, never a leaning one without its support."""

from __future__ import annotations

from pathlib import Path

from bot.summaries import split_sentences, summarize_text
from bot.summaries.selection import Candidate, choose_sentences, quote_share, word_weights

ARTICLES = Path(__file__).parent / "fixtures" / "articles"


def chain(*texts: str) -> list[Candidate]:
    """Return candidates that each follow the one before."""
    return [Candidate(text, index - 1 if index else None) for index, text in enumerate(texts)]


WEIGHTS = {"ferri": 2.0, "pier": 1.5, "storm": 1.5, "passenger": 1.0, "island": 1.0}


def test_sentences_bringing_story_words_are_chosen_over_asides() -> None:
    candidates = chain(
        "Ferries to the island resumed on Wednesday after the storm.",
        "What a week it has been for all of us here.",
        "The storm damaged the main pier and two ferries, and 200 passengers waited overnight.",
    )
    assert choose_sentences(candidates, weights=WEIGHTS, room=400, taken=(0,)) == [2]


def test_a_sentence_saying_nothing_new_is_left_out() -> None:
    candidates = chain(
        "Ferries to the island resumed on Wednesday after the storm.",
        "Ferries to the island resumed after the storm.",
    )
    assert choose_sentences(candidates, weights=WEIGHTS, room=400, taken=(0,)) == []


def test_a_leaning_sentence_needs_the_one_it_leans_on() -> None:
    candidates = chain(
        "Ferries to the island resumed on Wednesday after the storm.",
        "Officials gave no date for repairs.",
        "But the storm left the pier unsafe for passengers, and ferries dock at a barge.",
    )
    assert choose_sentences(candidates, weights=WEIGHTS, room=400, taken=(0,)) == []
    weights = {**WEIGHTS, "repair": 3.0, "date": 3.0}
    assert choose_sentences(candidates, weights=weights, room=400, taken=(0,)) == [1, 2]


def test_room_is_respected_and_a_shorter_later_sentence_may_fit() -> None:
    long = "The storm damaged the pier, " + "and the ferries, " * 20 + "said the operator."
    candidates = chain(
        "Ferries to the island resumed on Wednesday.",
        long,
        "About 200 passengers crossed after the storm damaged the pier.",
    )
    chosen = choose_sentences(candidates, weights=WEIGHTS, room=100, taken=(0,))
    assert chosen == [2]


def test_quotes_count_for_less() -> None:
    assert quote_share('"The pier is gone," she said.') > 0.6
    assert quote_share("The pier is gone.") == 0
    candidates = chain(
        "Ferries to the island resumed on Wednesday.",
        '"The storm took the pier and the ferries with it," a passenger said.',
        "The storm took the pier and two ferries, the passenger group said.",
    )
    assert choose_sentences(candidates, weights=WEIGHTS, room=90, taken=(0,)) == [2]


def test_word_weights_count_repeats_only() -> None:
    weights = word_weights("The pier broke. The pier was old. Ferries wait. Ferries wait.")
    assert set(weights) == {"pier", "ferri", "wait"}
    assert word_weights("Nothing repeats in this sentence.") == {}


def test_long_story_summary_takes_facts_over_a_colourful_quote() -> None:
    text = (ARTICLES / "reservoir-drought.txt").read_text(encoding="utf-8")
    summary = summarize_text(text, title="Tallow Creek reservoir hits a four-decade low")
    sentences = split_sentences(summary)
    assert sentences[0].startswith("The Tallow Creek reservoir fell to 18 percent")
    assert any(s.startswith("Under the order, farms") for s in sentences)
    assert "church steeple" not in summary
    assert len(summary) <= 400
    for sentence in sentences:
        assert sentence in text


def test_short_story_keeps_its_order() -> None:
    text = (
        "The dam held overnight. Officials said it was safe. "
        "Engineers will inspect it at dawn. Residents may return on Friday."
    )
    assert summarize_text(text) == text
