"""The fragment rule: a summary begins and ends like sentences, and the summarizer keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.summaries import summarize_html, summarize_text
from bot.summaries.fragments import (
    ends_like_sentence,
    fragment_problem,
    is_fragment,
    starts_like_sentence,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "summary",
    [
        "The dam held overnight. Engineers will inspect it at dawn.",
        '"We are not done yet," the mayor said. Crews returned at noon.',
        "2025 was the wettest year on record, the weather service said.",
        "iPhone sales rose 4 percent in the quarter.",
        "¿Quién pagará la reparación? El ayuntamiento no lo ha dicho.",
        "Движение по мосту закрыто до понедельника.",
        "أعلنت الهيئة افتتاح مبنى جديد في المطار.",
        "一座跨江大桥5日正式通车。全长12.6公里。",
        "The council approved the plan, which adds 14 bus routes and extends…",
        # A first paragraph the page left open, closed after its last clause.
        "The Latest on the derailment near Millbrook (all times local)… Crews worked all night.",
        "Visitors left glowing reviews of the show! 🙂",
        "Staying on the Moon is another matter. Why?",
        "",
    ],
)
def test_whole_summaries_are_not_fragments(summary: str) -> None:
    assert fragment_problem(summary) is None
    assert not is_fragment(summary)


@pytest.mark.parametrize(
    ("summary", "problem"),
    [
        # Pieces glued together from different blocks.
        ("make-up photos. to her Instagram page to share some photos. flag.", "starts mid"),
        ("to her Instagram page to share some stunning photos of herself.", "starts mid"),
        # A block that ends in the middle of a sentence.
        ("The report claims the screen will stay at 13 inches, although given the", "ends mid"),
        ("The Latest on the storm (all times local):", "ends mid"),
        # A one-word piece torn from the sentence it ended.
        ("DigiTimes. A preview was shared with paying readers.", "a lone word"),
        # What is left when a list or a quote was cut out after the clause.
        ("According to the lawyer, who works on extradition cases, .", "ends mid"),
        # The closing quote of the sentence before.
        ('" The club went 60 yards, he joked.', "starts mid"),
        # "…" after a comma or a space is not a clause cut.
        ("The council approved the plan, …", "ends mid"),
        ("The council approved the plan …", "ends mid"),
        # "…" after a word no clause ends with: the sentence was cut, not a clause ended.
        ("The council approved the plan, which adds 14 routes to the…", "ends mid"),
        ("The council approved the plan and…", "ends mid"),
        ("Der Rat hat den Plan der…", "ends mid"),
    ],
)
def test_fragments_say_what_is_wrong(summary: str, problem: str) -> None:
    found = fragment_problem(summary)
    assert found is not None and found.startswith(problem)
    assert is_fragment(summary)


def test_sentence_edges() -> None:
    assert starts_like_sentence("“Quoted,” she said.")
    assert starts_like_sentence("(Updated) Crews returned.")
    assert not starts_like_sentence("and then it rained.")
    assert not starts_like_sentence("")
    assert ends_like_sentence('He said "yes."')
    assert ends_like_sentence("It rained (again).")
    assert not ends_like_sentence("It rained and")
    assert not ends_like_sentence("It rained, .")


@pytest.mark.parametrize(
    "name",
    [
        "reprint-notice.html",
        "wrapped-lede.html",
        "box-score.html",
        "sidebar-first.html",
        "popup-card.html",
        "summary-box.html",
        "loose-lede.html",
        "dek-heading.html",
        "jsonld-body.html",
        "open-lede.html",
        "timeline-lede.html",
        "hashtag-lede.html",
        "caption-first.html",
    ],
)
def test_page_summaries_are_never_fragments(name: str) -> None:
    html = (FIXTURES / "pages" / name).read_text(encoding="utf-8")
    for budget in (80, 160, 250, 400, 700):
        summary = summarize_html(html, max_chars=budget)
        assert summary, (name, budget)
        assert len(summary) <= budget
        assert fragment_problem(summary) is None, (name, budget, summary)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paragraphs=st.lists(
        st.text(
            alphabet=st.sampled_from(list("ab cD Ef.,;:!?\"'()-—…0123456789ÄéЖ")),
            max_size=200,
        ),
        max_size=6,
    ),
    max_chars=st.integers(min_value=20, max_value=400),
)
def test_any_text_gives_a_whole_summary_or_none(paragraphs: list[str], max_chars: int) -> None:
    summary = summarize_text("\n\n".join(paragraphs), max_chars=max_chars)
    assert len(summary) <= max_chars
    assert not is_fragment(summary), summary
