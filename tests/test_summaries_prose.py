"""Prose and its edges: paragraphs a page left open, and hashtags after the last sentence."""

from __future__ import annotations

import pytest

from bot.summaries import summarize_text
from bot.summaries.clutter import clean_paragraphs, strip_trailing_tags
from bot.summaries.fragments import fragment_problem
from bot.summaries.prose import close_open_prose, is_prose


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        # No final full stop: the whole paragraph is kept and closed with "…".
        (
            "Harbor City have this morning paid the £48million release fee to secure the "
            "signing of Brenner Vale striker Tomas Okwu",
            "Harbor City have this morning paid the £48million release fee to secure the "
            "signing of Brenner Vale striker Tomas Okwu…",
        ),
        # A colon introducing a timeline gives way to "…"; the dateline counts as words.
        (
            "MILLBROOK, Ore. (AP) — The Latest on the Calder River derailment (all times local):",
            "MILLBROOK, Ore. (AP) — The Latest on the Calder River derailment (all times local)…",
        ),
        (
            "Here is what we know so far about the storm that flooded the harbor on Sunday:",
            "Here is what we know so far about the storm that flooded the harbor on Sunday…",
        ),
        # Whole sentences first, then one left open.
        (
            "The ferry left at dawn. It reached the island two hours later than planned "
            "because of the fog over the strait",
            "The ferry left at dawn. It reached the island two hours later than planned "
            "because of the fog over the strait…",
        ),
    ],
)
def test_prose_left_open_is_closed_after_its_last_clause(text: str, closed: str) -> None:
    assert not is_prose(text)
    assert close_open_prose(text) == closed
    assert fragment_problem(closed) is None


@pytest.mark.parametrize(
    "text",
    [
        # Already whole: nothing to close.
        "The ferry left at dawn and reached the island two hours later than planned.",
        # Stops on a word no clause ends with, or on a comma: torn, not left open.
        "The report claims the screen will stay at 13 inches, although given the source is",
        "The report claims the screen will stay at 13 inches and the price will rise by the",
        "Here are the five things you need to know about the budget the council passed,",
        # Too short without a colon: a title, a label or a caption.
        "Lumen Slate's new keyboard taken apart by a repair shop",
        # Mostly capitalized words: a headline or a run of names and labels.
        "How To Make The Best Pancakes In Town Without Any Eggs Or Milk At All This Spring",
        "Tested by: Jo Hale RRP: 49.95 Euro (£40) More info: shop.example | +49 40 890 85",
        # Furniture and credits stay furniture.
        "Sign up for our newsletter to get the best of the week's stories in your inbox today",
        "Cranes stand idle at the Eastgate terminal on Monday morning (Photo: Lee Ortman/Reuters)",
        # Ends on a hashtag.
        "Loving every minute of this long and sunny week by the sea with the whole family #summer",
        # Starts mid-sentence.
        "would be glad of, though, is the money left in the bank after the sales are over",
    ],
)
def test_text_that_is_not_open_prose_is_left_alone(text: str) -> None:
    assert close_open_prose(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Our spring menu arrives on Friday. #SpringMenu #EatLocal @bramblekitchen",
            "Our spring menu arrives on Friday.",
        ),
        ("What a night at the harbor! 🎉 #FireworksFest", "What a night at the harbor! 🎉"),
        # A tag used as a word inside the sentence stays.
        (
            "The shop was paid by #Brandlink and its partner for this post.",
            "The shop was paid by #Brandlink and its partner for this post.",
        ),
        # Tags after an unfinished sentence may be its words: nothing is dropped.
        ("We went hiking above the #Rockies", "We went hiking above the #Rockies"),
        ("Write to desk@example.org.", "Write to desk@example.org."),
    ],
)
def test_hashtags_after_the_last_sentence_are_dropped(text: str, expected: str) -> None:
    assert strip_trailing_tags(text) == expected


def test_text_summaries_keep_a_sentence_that_trailing_hashtags_followed() -> None:
    text = (
        "After three months of tasting, our spring menu arrives on Friday with dishes built "
        "around what the valley's farms pick this month. #SpringMenu #EatLocal\n\n"
        "The bread is now baked every morning with flour from the Ashby mill."
    )
    assert next(clean_paragraphs(text)).endswith("this month.")
    summary = summarize_text(text)
    assert summary.startswith("After three months of tasting")
    assert "#" not in summary
    assert fragment_problem(summary) is None
