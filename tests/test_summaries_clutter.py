"""Recognition and removal of page clutter and datelines."""

from __future__ import annotations

import pytest

from bot.summaries.clutter import (
    clean_paragraphs,
    is_breadcrumb,
    is_byline,
    is_clutter,
    is_photo_credit,
    is_promo,
    is_stamp,
    remove_inline_credits,
    strip_dateline,
    strip_flat_head,
)


@pytest.mark.parametrize(
    "line",
    [
        "Get the latest updates as we post them — right on your browser",
        "Sign up for our newsletter",
        "Subscribe to our daily briefing",
        "Follow us on Twitter @ValleyNews",
        "Like us on Facebook for more local stories",
        "Get The Morning Brief, our free newsletter, delivered to your inbox every day.",
        "Advertisement",
        "ADVERTISEMENT - SCROLL TO CONTINUE",
        "Story continues below advertisement",
        "Read more: Commuters brace for a summer of detours",
        "See more: The best trains in Europe .",
        "Related: Five bridges the state plans to rebuild",
        "RELATED STORIES",
        "Click here to watch the full interview.",
        "Share this article",
        "Scroll down for video",
        "© 2025 The Valley Courier. All rights reserved.",
        "Reporting by Jane Doe; Editing by John Roe",
        "Editor's note: This story has been updated with new figures.",
        "The views expressed in this commentary are solely those of the author.",
        "Lesen Sie auch: Was Fahrgäste jetzt wissen müssen",
        "Anzeige",
        "Lee también: Las claves de la temporada",
        "Publicidad",
        "Читайте также: Как изменятся маршруты",
        "Реклама",
        "اقرأ أيضا: ارتفاع أسعار الوقود",
        "相关阅读：多地加快交通基础设施建设",
    ],
)
def test_promos_and_ads_are_clutter(line: str) -> None:
    assert is_promo(line)
    assert is_clutter(line)


@pytest.mark.parametrize(
    "line",
    [
        ". Last Updated: 07/27/2016",
        "Updated: 14:32 GMT, Tuesday 4 March 2025",
        "Updated 10:32 AM EST, Tue March 3, 2015",
        "Published 3 hours ago",
        "Posted Monday, June 2",
        "March 10, 2015 .",
        "07/27/2016",
        "Stand: 05.03.2025 14:20 Uhr",
        "Actualizado: 05/03/2025 12:45",
        "Опубликовано: 05.03.2025 10:15",
        "发布时间：2025-03-05 09:30",
        "تاريخ النشر: 05/03/2025",
    ],
)
def test_stamps_are_clutter(line: str) -> None:
    assert is_stamp(line)
    assert is_clutter(line)


@pytest.mark.parametrize(
    "line",
    [
        "By Jane Doe, CNN",
        "By Jane Doe and John Roe, CNN",
        "By JANE DOE",
        "By Maria de la Cruz, Senior Correspondent",
        "Jane Doe, Reuters",
        "Von Petra Schulz",
        "Por Lucía Fernández",
    ],
)
def test_bylines_are_clutter(line: str) -> None:
    assert is_byline(line)
    assert is_clutter(line)


@pytest.mark.parametrize(
    "line",
    [
        "Photo: Jane Doe/Reuters",
        "Photo: Traffic crosses the bridge at dusk. (Getty Images)",
        "(Getty Images)",
        "Image copyright Getty Images",
        "Image caption Rescue teams worked through the night",
        "Council members vote on Monday night. (Photo: Ana Ruiz/Valley Courier)",
        "Rescuers search the rubble in the old town. (Jane Doe/AP)",
        "Foto: Ein leerer Bahnsteig. (Max Beispiel/dpa)",
        "Фото: Речной мост вечером.",
        "图片来源：本报资料图",
    ],
)
def test_photo_credits_are_clutter(line: str) -> None:
    assert is_photo_credit(line)
    assert is_clutter(line)


@pytest.mark.parametrize(
    "line",
    ["Home > News > Local > Transport", "Home | World | Europe", "Inicio / Noticias / Sociedad"],
)
def test_breadcrumbs_are_clutter(line: str) -> None:
    assert is_breadcrumb(line)
    assert is_clutter(line)


@pytest.mark.parametrize(
    "sentence",
    [
        "The West and Russia reached a landmark accord Tuesday.",
        "By the time police arrived, the suspect had fled.",
        "By Monday evening, crews had cleared one track and trains were running again.",
        "Updated figures released on Monday show unemployment fell to 4.1 percent.",
        "Published reports say the company lost $3 million in 2014.",
        "Subscribers to the service will pay $2 more a month from June.",
        "The company's newsletter reached two million readers last year.",
        "Related companies reported losses on Monday.",
        "Follow-up talks are planned in Geneva next week.",
        "Photographers were kept behind a fence during the ceremony.",
        "Advertisement spending rose 5 percent in the first quarter.",
        "Sponsored by three senators, the bill passed easily.",
        "Copyright laws are changing across Europe this year.",
        "For the latest quarter, profits rose 12 percent.",
        "The bridge is 1.2 km long and cost $48.5 million / 40 million euros.",
    ],
)
def test_story_sentences_are_not_clutter(sentence: str) -> None:
    assert not is_clutter(sentence)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "(CNN)Share, and your gift will be multiplied.",
            "Share, and your gift will be multiplied.",
        ),
        ("(CNN) -- Officials said on Monday.", "Officials said on Monday."),
        ("Tokyo (CNN)Police in Japan arrested a man.", "Police in Japan arrested a man."),
        ("New Delhi, India (CNN)The ambassador apologized.", "The ambassador apologized."),
        ("LONDON (Reuters) - Britain's economy grew.", "Britain's economy grew."),
        ("COLOGNE, Germany -- The West and Russia agreed.", "The West and Russia agreed."),
        ("WASHINGTON — The Senate voted on Tuesday.", "The Senate voted on Tuesday."),
        ("WASHINGTON, D.C. -- The Senate voted.", "The Senate voted."),
        (
            "(The Hollywood Reporter)It's official: the show returns.",
            "It's official: the show returns.",
        ),
        (
            "BERLIN (dpa) - Die Gewerkschaft ruft zum Streik auf.",
            "Die Gewerkschaft ruft zum Streik auf.",
        ),
        (
            "MADRID, 5 mar (EFE).- Un incendio obligó a desalojar.",
            "Un incendio obligó a desalojar.",
        ),
        ("МОСКВА, 5 марта. /ТАСС/. Движение закрыто.", "Движение закрыто."),
        ("МОСКВА, 12 мая — РИА Новости. Мост закрыт.", "Мост закрыт."),
        ("دبي (رويترز) - أعلنت الهيئة افتتاح مبنى.", "أعلنت الهيئة افتتاح مبنى."),
        ("新华社江城3月5日电（记者 王明） 大桥通车。", "大桥通车。"),
    ],
)
def test_datelines_are_stripped_and_the_sentence_kept(text: str, expected: str) -> None:
    assert strip_dateline(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "NATO -- the alliance's top body -- met on Monday.",
        "Apple (AAPL) shares fell 3 percent on Monday.",
        "The first -- and so far only -- show is in Louisville.",
        "Bafetimbi Gomis -- who has a history of fainting -- is well.",
        "Real Madrid (RM) fell to a 1-0 defeat.",
        "Eight minutes of sheer terror.",
        "(Updated at 5 p.m.) The storm weakened.",
    ],
)
def test_sentences_that_only_look_like_datelines_are_kept(text: str) -> None:
    assert strip_dateline(text) == text


def test_inline_credits_are_removed_from_sentences() -> None:
    assert (
        remove_inline_credits("The minister (AP Photo/Jane Doe) spoke to reporters.")
        == "The minister spoke to reporters."
    )
    assert remove_inline_credits("Crowds gathered (Getty Images) outside.") == (
        "Crowds gathered outside."
    )
    assert remove_inline_credits("The price (in dollars) rose.") == "The price (in dollars) rose."


def test_flattened_byline_and_stamps_are_removed() -> None:
    text = (
        "By . Sarah Okafor . PUBLISHED: . 09:14 EST, 12 May 2024 . | . UPDATED: . "
        "11:02 EST, 12 May 2024 . A freight train derailed on Sunday."
    )
    assert strip_flat_head(text) == "A freight train derailed on Sunday."
    assert strip_flat_head("Published reports in 2014. Sales fell.") == (
        "Published reports in 2014. Sales fell."
    )


def test_clean_paragraphs_drops_clutter_lines_and_headings() -> None:
    text = (
        "Home > News > Transport\n\n"
        "Advertisement\n\n"
        "Bridge Closes for Repairs\n\n"
        "By Jane Doe\n\n"
        "PORT ALDEN, Maine -- The bridge closes on April 1.\n\n"
        "Read more: Detours explained\n\n"
        "Ferries will add sailings."
    )
    assert list(clean_paragraphs(text)) == [
        "The bridge closes on April 1.",
        "Ferries will add sailings.",
    ]


def test_clean_paragraphs_keeps_text_without_any_punctuation() -> None:
    text = "flood warning for the river valley tonight"
    assert list(clean_paragraphs(text)) == [text]


def test_clean_paragraphs_keeps_line_per_paragraph_text_apart() -> None:
    text = "Advertisement\nThe bridge closes on April 1.\nFerries will add sailings."
    assert list(clean_paragraphs(text)) == [
        "The bridge closes on April 1.",
        "Ferries will add sailings.",
    ]
