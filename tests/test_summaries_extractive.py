"""Extractive summaries, lead baseline, article extraction and the full-story check."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.summaries import (
    extract_main_text,
    has_full_story,
    lead_baseline,
    split_sentences,
    summarize_html,
    summarize_text,
)
from bot.summaries.extractive import cut_at_clause, fit_to_budget
from bot.summaries.fragments import is_fragment

ARTICLES = Path(__file__).parent / "fixtures" / "articles"
SEED_ARTICLE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "seed-article.txt"

# Words that only page clutter brings into the fixtures.
CLUTTER_MARKERS = (
    "Sign up",
    "newsletter",
    "Share this",
    "Updated",
    "By Jane",
    "Getty",
    "Photo",
    "Advertisement",
    "Read more",
    "Related",
    "Follow us",
    "Home",
    "©",
    "PORT ALDEN",
)


def read_article(name: str) -> str:
    """Return a fixture article's text."""
    return (ARTICLES / name).read_text(encoding="utf-8")


def assert_whole_sentences(summary: str, source: str) -> None:
    """Check that every sentence of summary appears whole in source."""
    for sentence in split_sentences(summary):
        assert sentence in source, sentence


@pytest.mark.skipif(
    not SEED_ARTICLE.is_file(), reason=f"shared seed article not found at {SEED_ARTICLE}"
)
def test_seed_article_summary_starts_with_the_news() -> None:
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    summary = summarize_text(text, title="UN Sent Draft for Peace in Kosovo")
    assert summary.startswith("The West and Russia reached a landmark accord")
    for clutter in ("Get the latest", "Last Updated", "07/27/2016", "COLOGNE", "UN Sent Draft"):
        assert clutter not in summary
    assert len(summary) <= 400
    assert_whole_sentences(summary, text)


def test_clutter_heavy_article_keeps_only_the_story() -> None:
    text = read_article("harbor-bridge.txt")
    summary = summarize_text(text, title="Harbor Bridge to Close for Six Months of Repairs")
    assert summary == (
        "The Harbor Bridge will close to all traffic on April 1 for six months of repairs "
        "after inspectors found corrosion in two of its main cables, state officials said "
        "Tuesday. The closure will force about 40,000 drivers a day onto a 12-mile detour "
        "through Kittredge, according to the Maine Dept. of Transportation, which put the "
        "cost of the work at $48.5 million."
    )
    for marker in CLUTTER_MARKERS:
        assert marker not in summary


def test_headline_line_is_dropped_without_a_title() -> None:
    summary = summarize_text(read_article("harbor-bridge.txt"))
    assert summary.startswith("The Harbor Bridge will close")


def test_flattened_byline_stamps_and_inline_promos_are_removed() -> None:
    text = read_article("wire-flat.txt")
    summary = summarize_text(text)
    assert summary == (
        "A freight train carrying 60 cars of wheat derailed outside the town of Millbrook on "
        "Sunday morning, spilling grain across both tracks of the main line and halting "
        "passenger services between the two largest cities in the region. No one was hurt, "
        "according to the rail operator. Crews expect to reopen one track by Monday evening."
    )


def test_first_sentence_repeating_the_headline_is_skipped() -> None:
    text = read_article("headline-echo.txt")
    summary = summarize_text(text, title="City council approves new transit budget")
    assert summary.startswith("The city council on Monday approved a $310 million transit budget")
    assert "Approves" not in summary


def test_headline_is_never_returned() -> None:
    title = "Storm closes all schools in the valley"
    assert summarize_text(f"{title}.", title=title) == ""
    assert summarize_text(title, title=title) == ""
    assert summarize_text(f"{title}\n\n{title}.", title=title) == ""


def test_sentences_fill_the_budget_and_stay_whole() -> None:
    text = read_article("harbor-bridge.txt")
    for budget in (120, 200, 300, 400, 600):
        summary = summarize_text(text, max_chars=budget)
        assert 0 < len(summary) <= budget
        if not summary.endswith("…"):
            assert_whole_sentences(summary, text)


def test_long_first_sentence_is_cut_at_a_clause_with_an_ellipsis() -> None:
    first = (
        "The regional water authority announced on Wednesday that it would spend $1.2 billion "
        "over the next decade to replace aging pipes across the northern districts, "
        "where leaks waste nearly a third of the supply each year, "
        "a figure that has doubled since the last major upgrade in the early 1990s, "
        "and that customers in the affected areas should expect brief interruptions to their "
        "service as crews dig up streets one neighborhood at a time starting in the spring."
    )
    summary = summarize_text(f"{first} A second sentence follows here.", max_chars=300)
    assert summary.endswith("…")
    assert len(summary) <= 300
    head = summary.removesuffix("…")
    assert first.startswith(head)
    assert first[len(head)] == ","


def test_cut_never_splits_a_word() -> None:
    sentence = " ".join(["extraordinarily"] * 60)
    cut = cut_at_clause(sentence, 100)
    assert cut.endswith("…")
    assert len(cut) <= 100
    assert all(word == "extraordinarily" for word in cut.removesuffix("…").split())


def test_a_cut_never_ends_on_a_word_no_clause_ends_with() -> None:
    # The last clause boundary in the budget comes right after "the": "and the" go too.
    sentence = (
        "Crews will replace the pipes under the old market square and the — as residents "
        "call it — crooked lane behind the station over the next two summers."
    )
    cut = cut_at_clause(sentence, 80)
    assert cut == "Crews will replace the pipes under the old market square…"
    assert not is_fragment(cut)


def test_text_without_punctuation_gets_a_sensible_cut() -> None:
    words = ["Word0", *(f"word{n}" for n in range(1, 200))]
    text = " ".join(words)
    summary = summarize_text(text, max_chars=150)
    assert summary.endswith("…")
    assert len(summary) <= 150
    kept = summary.removesuffix("…").split()
    assert kept == words[: len(kept)]
    assert len(kept) > 10
    assert not is_fragment(summary)


@pytest.mark.parametrize(
    "text",
    [
        "flood warning for the river valley tonight",
        "Flood warning for the river valley tonight",
        " ".join(f"word{n}" for n in range(200)),
    ],
)
def test_text_with_no_whole_sentence_gives_no_summary(text: str) -> None:
    # A phrase without a sentence's start or end would be a fragment.
    assert summarize_text(text) == ""
    assert summarize_text(f"{text[0].upper()}{text[1:]}.") != ""


def test_nothing_usable_gives_an_empty_summary() -> None:
    assert summarize_text("") == ""
    assert summarize_text("   \n\n  ") == ""
    assert summarize_text("Advertisement\n\nSign up for our newsletter\n\nBy Jane Doe") == ""


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        summarize_text("Something happened.", max_chars=0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "de-bahnstreik.txt",
            "Die Lokführergewerkschaft hat für Donnerstag und Freitag zu einem bundesweiten Streik "
            "im Fern- und Regionalverkehr aufgerufen. Nach Angaben von Dr. Petra Schulz, der "
            "Sprecherin der Gewerkschaft, sollen rund 80 Prozent der Züge ausfallen, z. B. auf "
            "den Strecken nach Hamburg und München.",
        ),
        (
            "es-incendio.txt",
            "Un incendio forestal obligó este miércoles a desalojar a unos 600 vecinos de tres "
            "pueblos de la sierra, según informó el Sr. Martínez, portavoz de los servicios de "
            "emergencia. Más de 200 bomberos trabajan en la zona con el apoyo de 12 aviones.",
        ),
        (
            "ru-most.txt",
            "Движение по Речному мосту будет закрыто на две недели с 10 марта из-за ремонта, "
            "сообщили в городском департаменте транспорта. По словам руководителя департамента, "
            "работы планировалось завершить ещё в 2024 г.",
        ),
        (
            "ar-matar.txt",
            "أعلنت هيئة الطيران المدني يوم الأربعاء افتتاح مبنى جديد في المطار يستوعب عشرين "
            "مليون مسافر سنويا. وقال مدير الهيئة إن المبنى سيبدأ استقبال الرحلات "
            "في الأول من يونيو.",
        ),
        ("zh-daqiao.txt", "一座连接两岸的跨江大桥5日正式通车，全长12.6公里，设计时速100公里。"),
    ],
)
def test_non_english_articles_give_clean_whole_sentences(name: str, expected: str) -> None:
    text = read_article(name)
    summary = summarize_text(text, max_chars=len(expected))
    assert summary == expected
    # With room for more, the next whole sentence follows and nothing else does.
    longer = summarize_text(text, max_chars=400)
    assert longer.startswith(expected)
    assert_whole_sentences(longer, text)


def test_lead_baseline_takes_sentences_as_they_stand() -> None:
    text = "(CNN)First sentence here. Second one is here. Third one closes it."
    assert lead_baseline(text, max_chars=50) == "(CNN)First sentence here. Second one is here."
    assert lead_baseline(text) == text
    assert lead_baseline("") == ""
    long_first = "word " * 200
    cut = lead_baseline(long_first, max_chars=100)
    assert cut.endswith("…")
    assert len(cut) <= 100


def test_fit_to_budget_keeps_whole_sentences() -> None:
    text = (
        "The dam held overnight. Engineers will inspect it at dawn. Residents may return on Friday."
    )
    assert fit_to_budget(text, max_chars=60) == (
        "The dam held overnight. Engineers will inspect it at dawn."
    )
    assert fit_to_budget(text, max_chars=500) == text


@pytest.mark.parametrize("separator", ["\n\n", "\n", " "])
def test_only_the_head_of_a_long_article_is_processed(separator: str) -> None:
    story = [
        "Officials said the repairs would take months.",
        "Dr. Grant of the U.S. agency agreed.",
    ]
    unit = [*story, "Advertisement .", "Read more: Detours explained ."]
    text = separator.join(unit * 3000)
    start = time.perf_counter()
    summary = summarize_text(text)
    elapsed = time.perf_counter() - start
    # The clutter is gone, and a sentence said again adds nothing, so it is said once.
    assert summary == " ".join(story)
    # Segmenting all 400,000 characters would take seconds.
    assert elapsed < 1.0


# Extraction


def test_html_page_gives_the_story_without_page_furniture() -> None:
    html = read_article("valley-budget.html")
    text = extract_main_text(html, url="https://courier.example/news/budget")
    assert text is not None
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith("Council passes $2.1 billion budget") or paragraphs[
        0
    ].startswith("The Valley City Council passed")
    assert any(
        p.startswith("The Valley City Council passed a $2.1 billion budget") for p in paragraphs
    )
    assert "The new budget takes effect on July 1." in paragraphs
    for furniture in ("Privacy policy", "All rights reserved", "Get unlimited access", "dataLayer"):
        assert furniture not in text
    assert "\n\n\n" not in text


def test_html_summary_uses_the_page_headline_and_skips_clutter() -> None:
    html = read_article("valley-budget.html")
    summary = summarize_html(html)
    assert summary == (
        "The Valley City Council passed a $2.1 billion budget shortly after midnight on "
        "Tuesday, ending a six-hour debate over police overtime and a plan to reopen two "
        "public swimming pools. The budget, approved by a 7-2 vote, raises property taxes by "
        "1.5 percent and sets aside $12 million for road repairs in the city's eastern "
        "districts, Mayor Helen Park said after the vote."
    )


def test_plain_text_passes_through_extraction() -> None:
    text = "The dam held overnight.\n\nEngineers will inspect it at dawn."
    assert extract_main_text(f"  {text}\n") == text
    assert summarize_html(text) == "The dam held overnight. Engineers will inspect it at dawn."


@pytest.mark.parametrize(
    "html", ["", "   ", "<html><body></body></html>", "<html><body><nav>Home</nav></body></html>"]
)
def test_nothing_usable_in_html_gives_none(html: str) -> None:
    assert extract_main_text(html) is None
    assert summarize_html(html) == ""


def test_broken_html_still_gives_its_text() -> None:
    story = (
        "The dam held overnight and engineers will inspect it at dawn, officials said on "
        "Sunday, after a week of heavy rain filled the reservoir to its highest level in years."
    )
    html = f"<html><body><div><p>{story}<div><p>Unclosed <b>tag " + "<" * 50
    text = extract_main_text(html)
    assert text is not None
    assert story in text
    assert summarize_html(html).startswith("The dam held overnight")


# Full story in the feed


PROSE = (
    "The council met on Monday evening to discuss the budget for the coming year, "
    "and members spent most of the session on the police overtime line."
)


def test_content_encoded_with_several_paragraphs_is_the_full_story() -> None:
    content = "".join(f"<p>{PROSE}</p>" for _ in range(3))
    assert has_full_story(content_html=content, description=None)


def test_teaser_content_and_short_description_are_not_the_full_story() -> None:
    assert not has_full_story(content_html="<p>The council met on Monday.</p>", description=None)
    assert not has_full_story(content_html=None, description=PROSE)
    assert not has_full_story(content_html=None, description=None)
    assert not has_full_story(content_html="  ", description="")
    assert not has_full_story(
        content_html='<p><a href="/x">Read more</a></p><p><img src="a.jpg"></p>', description=None
    )


def test_description_of_several_paragraphs_or_long_text_is_the_full_story() -> None:
    paragraphs = "\n\n".join([PROSE] * 3)
    assert has_full_story(content_html=None, description=paragraphs)
    html_paragraphs = "".join(f"<p>{PROSE}</p>" for _ in range(3))
    assert has_full_story(content_html=None, description=html_paragraphs)
    long_text = " ".join([PROSE] * 8)
    assert len(long_text) > 1000
    assert has_full_story(content_html=None, description=long_text)


def test_markup_and_scripts_do_not_count_as_story() -> None:
    script = "<script>" + "var x = 1; " * 200 + "</script><p>Short teaser.</p>"
    assert not has_full_story(content_html=script, description=None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(
        alphabet=st.sampled_from(list("ab cD.,;!?\n\"'()-—…。，0123456789ÄéЖق中")), max_size=600
    ),
    max_chars=st.integers(min_value=1, max_value=300),
    title=st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_text_gives_a_summary_within_budget(
    text: str, max_chars: int, title: str | None
) -> None:
    summary = summarize_text(text, title=title, max_chars=max_chars)
    assert len(summary) <= max_chars
    assert summary == summary.strip()
    baseline = lead_baseline(text, max_chars=max_chars)
    assert len(baseline) <= max_chars
