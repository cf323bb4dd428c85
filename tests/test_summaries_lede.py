"""The lede rule: skip a first sentence only when it repeats the headline and nothing needs it."""

from __future__ import annotations

import pytest

from bot.summaries import summarize_text
from bot.summaries.lede import leans_on_previous, repeats_headline, skips_lede

HEADLINE = "Qualifying ends with Harbor City through to the finals"


@pytest.mark.parametrize(
    ("sentence", "headline"),
    [
        ("City Council Approves New Transit Budget.", "City council approves new transit budget"),
        ("Storm closes all schools in the valley.", "Storm closes all schools in the valley"),
        # A site name after the headline does not hide the repeat.
        (
            "Council passes $2.1 billion budget after late-night vote.",
            "Council passes $2.1 billion budget after late-night vote | The Valley Courier",
        ),
    ],
)
def test_word_for_word_repeats(sentence: str, headline: str) -> None:
    assert repeats_headline(sentence, headline)


@pytest.mark.parametrize(
    ("sentence", "headline"),
    [
        # The same words in another order say more than the headline: keep them.
        (
            "WeWork is reportedly being investigated by the New York State Attorney General.",
            "New York State Attorney General reportedly investigating WeWork",
        ),
        (
            "The city council on Monday approved a $310 million transit budget that adds 14 "
            "bus routes.",
            "City council approves new transit budget",
        ),
        ("It rained.", "Storm closes all schools in the valley as rivers rise"),
        ("Anything at all.", None),
    ],
)
def test_sentences_that_are_not_repeats(sentence: str, headline: str | None) -> None:
    assert not repeats_headline(sentence, headline)


@pytest.mark.parametrize(
    "sentence",
    [
        "Well, sort of.",
        "But officials disagreed.",
        "It was the third attempt.",
        "“This is the end,” he said.",
        "In addition to the deaths, five people were hurt.",
        "Aber die Gewerkschaft widersprach.",
        "Однако власти не согласились.",
    ],
)
def test_sentences_that_lean_on_the_one_before(sentence: str) -> None:
    assert leans_on_previous(sentence)


@pytest.mark.parametrize(
    "sentence",
    ["The group stage finished on Tuesday.", "Harbor City won 2-1.", "Italy won the cup."],
)
def test_sentences_that_stand_alone(sentence: str) -> None:
    assert not leans_on_previous(sentence)


def test_a_repeat_stays_when_the_next_sentence_leans_on_it() -> None:
    first = "Qualifying ends with Harbor City through to the finals."
    assert skips_lede(first, "The group stage finished on Tuesday.", HEADLINE)
    assert not skips_lede(first, "Well, sort of.", HEADLINE)
    assert skips_lede(first, None, HEADLINE)
    assert not skips_lede("Harbor City won on Tuesday night.", None, HEADLINE)


def test_summary_keeps_the_lede_the_next_sentence_needs() -> None:
    text = (
        "Qualifying ends with Harbor City through to the finals.\n\n"
        "Well, sort of. The group stage finished on Tuesday with Harbor City second in its "
        "group, but a points deduction for another team is still under appeal."
    )
    summary = summarize_text(text, title=HEADLINE)
    assert summary.startswith("Qualifying ends with Harbor City through to the finals. Well,")

    plain = text.replace("Well, sort of. ", "")
    assert summarize_text(plain, title=HEADLINE).startswith("The group stage finished")
