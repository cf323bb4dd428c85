"""Sentence splitting, paragraphs and language guessing for summaries."""

from __future__ import annotations

import pytest

from bot.summaries import split_sentences
from bot.summaries.lang import detect_language
from bot.summaries.sentences import FULL_WINDOW_CHARS, split_paragraphs


def test_abbreviations_do_not_end_sentences() -> None:
    text = (
        "Dr. Smith met Mr. Jones at 10 a.m. on Jan. 5 in the U.S. capital. "
        "The meeting took place at No. 10 Downing Street. Gov. Lee and Sen. Park were absent."
    )
    assert split_sentences(text) == [
        "Dr. Smith met Mr. Jones at 10 a.m. on Jan. 5 in the U.S. capital.",
        "The meeting took place at No. 10 Downing Street.",
        "Gov. Lee and Sen. Park were absent.",
    ]


def test_initials_stay_with_their_names() -> None:
    text = "J.K. Rowling and George R. R. Martin spoke in St. Louis on Friday. Both signed books."
    assert split_sentences(text) == [
        "J.K. Rowling and George R. R. Martin spoke in St. Louis on Friday.",
        "Both signed books.",
    ]


def test_decimals_and_prices_do_not_split() -> None:
    text = "Growth slowed to 3.5 percent, and a loaf cost $2.49 in March. Prices rose 0.4% later."
    assert split_sentences(text) == [
        "Growth slowed to 3.5 percent, and a loaf cost $2.49 in March.",
        "Prices rose 0.4% later.",
    ]


def test_quotations_keep_their_attribution() -> None:
    text = '"We will rebuild," the mayor said. "Nobody can stop us." The crowd cheered.'
    assert split_sentences(text) == [
        '"We will rebuild," the mayor said.',
        '"Nobody can stop us."',
        "The crowd cheered.",
    ]


def test_clock_time_before_a_weekday_is_one_sentence() -> None:
    text = "The polls closed at 8 p.m. Sunday. Counting began at once."
    assert split_sentences(text) == [
        "The polls closed at 8 p.m. Sunday.",
        "Counting began at once.",
    ]


def test_clock_time_before_a_new_sentence_still_ends_it() -> None:
    text = "The vote ended at 4 p.m. Police left."
    assert split_sentences(text) == ["The vote ended at 4 p.m.", "Police left."]


def test_text_without_punctuation_is_one_sentence() -> None:
    text = "river levels keep rising and the town hall is now closed"
    assert split_sentences(text) == [text]


def test_empty_text_has_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []


def test_paragraphs_are_split_separately() -> None:
    text = "First paragraph ends here\n\nSecond paragraph. It has two sentences."
    assert split_sentences(text) == [
        "First paragraph ends here",
        "Second paragraph.",
        "It has two sentences.",
    ]


def test_long_text_is_split_across_windows_without_loss() -> None:
    sentence = "Officer No. {n} of the U.S. Coast Guard reported to Dr. Rivera at 9 a.m. on Monday."
    sentences = [sentence.format(n=n) for n in range(80)]
    text = " ".join(sentences)
    assert len(text) > 2 * FULL_WINDOW_CHARS
    assert split_sentences(text) == sentences


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        (
            "de",
            "Laut Dr. Müller tritt das Gesetz am 1. Januar in Kraft, z. B. für Mieter. "
            "Die Opposition kritisierte den Entwurf.",
            [
                "Laut Dr. Müller tritt das Gesetz am 1. Januar in Kraft, z. B. für Mieter.",
                "Die Opposition kritisierte den Entwurf.",
            ],
        ),
        (
            "es",
            "Según el Sr. García, la ley entrará en vigor en enero. La oposición votó en contra.",
            [
                "Según el Sr. García, la ley entrará en vigor en enero.",
                "La oposición votó en contra.",
            ],
        ),
        (
            "ru",
            "Работы планировалось завершить ещё в 2024 г. Однако подрядчик не успел. "
            "Мост откроют 1 июня.",
            [
                "Работы планировалось завершить ещё в 2024 г.",
                "Однако подрядчик не успел.",
                "Мост откроют 1 июня.",
            ],
        ),
        (
            "ar",
            "أعلنت الهيئة افتتاح مبنى جديد. وقال المدير إن العمل سيبدأ في يونيو؟ نعم.",
            ["أعلنت الهيئة افتتاح مبنى جديد.", "وقال المدير إن العمل سيبدأ في يونيو؟", "نعم."],
        ),
        (
            "zh",
            "大桥5日正式通车，全长12.6公里。该桥历时四年建成！",
            ["大桥5日正式通车，全长12.6公里。", "该桥历时四年建成！"],
        ),
    ],
)
def test_non_english_text_splits_into_whole_sentences(
    lang: str, text: str, expected: list[str]
) -> None:
    assert detect_language(text) == lang
    assert split_sentences(text) == expected
    assert split_sentences(text, lang=lang) == expected


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("The council said that the vote was delayed by a week.", "en"),
        ("Die Regierung hat das Gesetz nicht mit der Opposition abgestimmt.", "de"),
        ("El Gobierno aprobó la ley con los votos de la oposición.", "es"),
        ("Le gouvernement a présenté les mesures dans une conférence.", "fr"),
        ("Правительство одобрило новый закон во вторник.", "ru"),
        ("Правителството одобри новия закон във вторник, съобщиха от кабинета.", "bg"),
        ("وافقت الحكومة على قانون جديد يوم الثلاثاء.", "ar"),
        ("دولت روز سه‌شنبه قانون جدیدی را تصویب کرد.", "fa"),
        ("政府周二批准了一项新法律。", "zh"),
        ("政府は火曜日に新しい法律を承認しました。", "ja"),
        ("Η κυβέρνηση ενέκρινε νέο νόμο.", "el"),
        ("", "en"),
        ("12345 678", "en"),
    ],
)
def test_language_guess(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_unknown_language_code_falls_back_to_english() -> None:
    assert split_sentences("One. Two.", lang="xx") == ["One.", "Two."]


def test_hard_wrapped_lines_are_joined() -> None:
    text = (
        "The council voted on Monday to close the old harbor bridge for\n"
        "repairs that engineers say cannot wait another winter, and the\n"
        "work will begin in April according to the city's transport office.\n"
    )
    assert split_paragraphs(text) == [" ".join(text.split())]


def test_single_lines_are_paragraphs_when_not_wrapped() -> None:
    text = "Storm closes schools\nAll schools will stay closed on Friday.\nBuses will not run."
    assert split_paragraphs(text) == [
        "Storm closes schools",
        "All schools will stay closed on Friday.",
        "Buses will not run.",
    ]
