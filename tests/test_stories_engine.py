"""Grouping reports into stories: one event in other words, names shared across events, time."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from bot.stories import Clusterer, Params, Report

T0 = datetime(2031, 4, 2, 6, 0, tzinfo=UTC)


# A day of ordinary news before the tests' events, so that word statistics look like a
# running service's: generic headline words are common, names are not.
def _split(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


_PLACES = _split("Eastbrook Harlow Redcliffe Ashford Millbury Corran Wexley Sundale Elmsford")
_SUBJECTS = _split(
    "council police minister court union mayor firefighters doctors teachers farmers "
    "residents officials investors shoppers scientists lawmakers voters workers fans coach"
)
_VERBS = _split(
    "back|reject|warn of|call for|vote on|battle|delay|approve|plan|cut|raise|probe|"
    "launch|end|face|win|lose|defend|review|celebrate|evacuate|rescue|contain",
    "|",
)
_OBJECTS = _split(
    "new budget|school closures|tax rise|flood defences|road repairs|hospital plan|"
    "rail strike|pay deal|housing project|water prices|bus routes|energy bills|park plan|"
    "safety rules|night curfew|river cleanup|election result|trade deal|rent caps|festival|"
    "homes|fire|storm damage|power cuts|quake drill",
    "|",
)
_TAILS = [
    "",
    "",
    "",
    " after long debate",
    " through the night",
    " as costs soar",
    " amid protests",
    " despite warnings",
    " for second year",
    " ahead of summer",
    " over safety fears",
    " in landmark move",
    " as winds strengthen",
    " now, officials say",
]


def _background() -> list[str]:
    rng = random.Random(14)
    return [
        f"{rng.choice(_PLACES)} {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} "
        f"{rng.choice(_OBJECTS)}{rng.choice(_TAILS)}"
        for _ in range(400)
    ]


BACKGROUND = _background()


def report(number: int, title: str, *, minutes: float, summary: str | None = None) -> Report:
    """Make report number, published minutes after T0."""
    return Report(
        id=number,
        title=title,
        published=T0 + timedelta(minutes=minutes),
        source=f"source {number % 7}",
        summary=summary,
    )


def warmed(params: Params | None = None, window: timedelta | None = None) -> Clusterer:
    """Return a clusterer that has seen a morning of unrelated news before T0."""
    clusterer = Clusterer(params=params, **({"window": window} if window else {}))
    for i, title in enumerate(BACKGROUND):
        clusterer.assign(report(-1 - i, title, minutes=-1200 + 3 * i))
    return clusterer


def place(
    clusterer: Clusterer, titles: Iterable[tuple[float, str]], start: int = 1
) -> list[object]:
    """Assign (minutes, title) reports in order and return their story ids."""
    return [
        clusterer.assign(report(start + i, title, minutes=minutes))
        for i, (minutes, title) in enumerate(titles)
    ]


def test_one_event_in_other_words_is_one_story() -> None:
    stories = place(
        warmed(),
        [
            (0, "Magnitude 6.8 earthquake strikes off the coast of Velmora"),
            (4, "Strong quake of magnitude 6.8 hits Velmora coast; tsunami alert issued"),
            (9, "Velmora earthquake: tsunami warning after 6.8 tremor shakes coastal towns"),
            (15, "Tsunami alert lifted after Velmora quake, no major damage reported"),
            (22, "VELMORA EARTHQUAKE: 6.8 QUAKE FELT ACROSS THE COAST"),
        ],
    )
    assert stories == [1, 1, 1, 1, 1]


def test_events_that_share_a_country_or_company_stay_apart() -> None:
    clusterer = warmed()
    stories = place(
        clusterer,
        [
            (0, "Velmora central bank raises interest rates to 4.5%"),
            (10, "Velmora earthquake: rescuers search collapsed buildings"),
            (20, "Velmora national team reaches cup final"),
            (30, "Brightwater Motors recalls 40,000 trucks over brake fault"),
            (40, "Brightwater Motors shares jump after record quarterly profit"),
            (50, "Brightwater Motors Names New Chief Executive"),
            (60, "Brightwater Motors Opens Battery Plant In Velmora"),
        ],
    )
    assert len(set(stories)) == len(stories)


def test_a_story_that_develops_over_hours_stays_one_story() -> None:
    stories = place(
        warmed(),
        [
            (0, "Wildfire near Dunmore forces evacuation of 2,000 homes"),
            (25, "Dunmore wildfire: 2,000 homes evacuated as flames spread"),
            (60, "Winds push Dunmore wildfire toward highway, more homes evacuated"),
            (100, "Firefighters battle Dunmore wildfire through the night"),
            (150, "Dunmore wildfire now 30% contained, firefighters say"),
            (190, "Dunmore wildfire evacuation orders remain as firefighters gain ground"),
            (230, "Dunmore wildfire: evacuated residents wait for news of their homes"),
        ],
    )
    assert stories == [1] * 7


def test_reports_of_another_event_do_not_join_a_busy_story() -> None:
    clusterer = warmed()
    event = [
        (m, f"Harbor strike in Portavel enters day {d}, ships wait offshore")
        for m, d in ((0, 2), (5, 2), (11, 3), (18, 3))
    ]
    stories = place(clusterer, event)
    later = clusterer.assign(report(50, "Portavel ferry sinks, 12 passengers rescued", minutes=30))
    assert set(stories) == {1}
    assert later == 50


def test_a_report_joins_the_story_it_is_about_among_several() -> None:
    clusterer = warmed()
    place(
        clusterer,
        [
            (0, "Lumora recalls foldable tablet over battery overheating"),
            (3, "Redcliffe United sack manager after five straight defeats"),
            (6, "Eastbrook library budget approved after long debate"),
        ],
    )
    assert (
        clusterer.assign(
            report(10, "Foldable tablet battery fault: Lumora recall widens", minutes=9)
        )
        == 1
    )
    assert (
        clusterer.assign(report(11, "Redcliffe United manager sacked after defeats", minutes=12))
        == 2
    )


def test_stories_close_after_the_window() -> None:
    window = timedelta(hours=2)
    clusterer = warmed(window=window)
    title = "Glacier collapse blocks valley road near Tarnholm"
    first = clusterer.assign(report(1, title, minutes=0))
    assert clusterer.assign(report(2, title, minutes=60)) == first
    # Within the window of the latest report a story stays open...
    assert clusterer.assign(report(3, title, minutes=170)) == first
    # ...and once all of it is older than the window, the same words start a new story.
    assert clusterer.assign(report(4, title, minutes=170 + 121)) == 4
    assert list(clusterer.stories) == [4]
    assert clusterer.members == 1


def test_memory_is_bounded_by_the_window() -> None:
    clusterer = Clusterer(window=timedelta(hours=1))
    for i in range(3000):
        clusterer.assign(report(i, f"Event {i} in town {i % 97} report {i % 13}", minutes=i))
    assert clusterer.members <= 61
    assert len(clusterer.stories) <= 61
    assert clusterer.indexed_words <= 61 * 4
    clusterer.assign(report(9999, "Quiet day", minutes=10_000))
    assert list(clusterer.stories) == [9999]
    assert clusterer.members == 1


def test_a_story_keeps_a_bounded_number_of_members() -> None:
    clusterer = warmed(Params(members=4))
    stories = place(
        clusterer,
        [
            (i, f"Kestrel Bay oil spill cleanup continues, crews on beach {i % 3}")
            for i in range(30)
        ],
    )
    assert set(stories) == {1}
    story = clusterer.stories[1]
    assert story.size == 30
    assert len(story.members) == 4


def test_summaries_alone_never_join_reports() -> None:
    clusterer = warmed()
    boilerplate = "Read the full story and more local news at the Valley Courier website today."
    first = clusterer.assign(
        report(1, "Eastbrook bridge reopens after repairs", minutes=0, summary=boilerplate)
    )
    second = clusterer.assign(
        report(2, "Snow closes Harlow schools", minutes=5, summary=boilerplate)
    )
    assert (first, second) == (1, 2)


def test_summaries_add_weight_to_titles_that_share_words() -> None:
    text = (
        "Barrow County officials said the Millrace dam failed at dawn, flooding 300 homes "
        "downstream and forcing rescuers to use boats."
    )
    clusterer = warmed(Params(threshold=0.3))
    first = clusterer.assign(
        report(1, "Millrace dam bursts in Barrow County", minutes=0, summary=text)
    )
    second = clusterer.assign(
        report(2, "Barrow County flooding: boats rescue families", minutes=6, summary=text)
    )
    bare = warmed(Params(threshold=0.3))
    bare.assign(report(1, "Millrace dam bursts in Barrow County", minutes=0))
    alone = bare.assign(report(2, "Barrow County flooding: boats rescue families", minutes=6))
    assert (first, second, alone) == (1, 1, 2)


@pytest.mark.parametrize(
    ("same", "other"),
    [
        (
            ["江南省发生6.5级地震 多地震感强烈", "江南省6.5级地震造成房屋倒塌"],
            "江南省举行新年音乐会",
        ),
        (
            ["北海道で震度5強の地震 津波の心配なし", "北海道の地震 震度5強を観測 津波の心配なし"],
            "北海道で雪まつり開幕",
        ),
        (
            ["น้ำท่วมหนักที่เชียงใหม่ ประชาชนอพยพ", "เชียงใหม่น้ำท่วมหนัก ประชาชนอพยพหลายพันคน"],
            "เชียงใหม่จัดงานเทศกาลดอกไม้",
        ),
        (
            [
                "Землетрясение магнитудой 6,1 произошло у берегов Камчатки",
                "У берегов Камчатки произошло землетрясение магнитудой 6.1",
            ],
            "На Камчатке открылся новый аэропорт",
        ),
        (
            [
                "Grève générale à Lyon : les transports paralysés",
                "GREVE GENERALE A LYON, TRANSPORTS PARALYSES",
            ],
            "Lyon : ouverture du festival des lumières",
        ),
    ],
)
def test_non_latin_and_accented_scripts(same: list[str], other: str) -> None:
    clusterer = warmed()
    stories = place(clusterer, [(5 * i, title) for i, title in enumerate(same)])
    assert stories == [1] * len(same)
    assert clusterer.assign(report(99, other, minutes=30)) == 99


def test_load_rebuilds_the_state_the_stream_left() -> None:
    titles = [
        "Magnitude 6.8 earthquake strikes off the coast of Velmora",
        "Brightwater Motors recalls 40,000 trucks over brake fault",
        "Strong quake of magnitude 6.8 hits Velmora coast; tsunami alert issued",
        "Velmora earthquake: tsunami warning after 6.8 tremor shakes coastal towns",
        "Brightwater Motors truck recall: brake fault blamed on supplier",
        "Tsunami alert lifted after Velmora quake, no major damage reported",
        "Brightwater recall of 40,000 trucks to cost millions",
        "Velmora central bank raises interest rates to 4.5%",
    ]
    reports = [report(i, t, minutes=i) for i, t in enumerate(BACKGROUND + titles)]
    whole = Clusterer()
    expected = [whole.assign(r) for r in reports]
    cut = len(BACKGROUND) + 4
    rebuilt = Clusterer()
    for r, story in zip(reports[:cut], expected[:cut], strict=True):
        rebuilt.load(r, story)
    assert [rebuilt.assign(r) for r in reports[cut:]] == expected[cut:]
    # The later reports do join stories begun before the cut.
    quake, recall = len(BACKGROUND), len(BACKGROUND) + 1
    assert expected[cut:] == [recall, quake, recall, reports[-1].id]


def test_state_pickles_and_goes_on_alike() -> None:
    clusterer = warmed()
    place(clusterer, [(0, "Wildfire near Dunmore forces evacuation of 2,000 homes")])
    copy = pickle.loads(pickle.dumps(clusterer))
    follow_up = report(2, "Dunmore wildfire: 2,000 homes evacuated as flames spread", minutes=20)
    assert copy.assign(follow_up) == clusterer.assign(follow_up) == 1


def test_report_ids_must_be_unique_among_open_stories() -> None:
    clusterer = warmed()
    clusterer.assign(report(1, "Wildfire near Dunmore forces evacuation", minutes=0))
    with pytest.raises(ValueError, match="already an open story"):
        clusterer.assign(report(1, "Unrelated chess tournament results", minutes=1))


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Clusterer(window=timedelta(0))


def test_the_engine_imports_no_storage_network_or_telegram_code() -> None:
    code = (
        "import sys, bot.stories, bot.cli.cluster\n"
        "heavy = ('telegram', 'httpx', 'sqlalchemy', 'sqlmodel', 'feedparser')\n"
        "inner = ('bot.db', 'bot.delivery', 'bot.handlers', 'bot.config')\n"
        "print([m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(inner)])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_one_shared_headline_word_and_a_feed_boilerplate_stay_apart() -> None:
    # A fresh engine (every word still looks rare) and a feed that ends each summary alike.
    clusterer = Clusterer()
    tail = "More details are expected later today."
    titles = [
        "Harbour pilots end strike at Port Ellis",
        "Old harbour crane is torn down",
        "Valdora opens a new harbour bridge",
    ]
    placed = [
        clusterer.assign(
            Report(
                id=i,
                title=title,
                published=T0 + timedelta(minutes=i),
                source="Harbour Gazette",
                summary=f"{title}. {tail}",
            )
        )
        for i, title in enumerate(titles, start=1)
    ]
    assert placed == [1, 2, 3]
