"""Article pages: the summary opens with the lede, leaves the furniture out, joins no blocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html as lxml_html

from bot.summaries import extract_main_text, summarize_html
from bot.summaries.dom import DomParagraph, dom_paragraphs
from bot.summaries.page import Block, Page, read_page
from bot.summaries.story import story_paragraphs

PAGES = Path(__file__).parent / "fixtures" / "pages"


def page_html(name: str) -> str:
    """Return a fixture page's HTML."""
    return (PAGES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "lede", "absent"),
    [
        (
            "reprint-notice.html",
            "The port authority board voted 6-1 on Thursday to expand the Eastgate container",
            ["personal, non-commercial", "cookies", "subscriber", "Photo:", "Related", "©"],
        ),
        (
            # A paragraph wrapped with <br> is one paragraph, not four pieces.
            "wrapped-lede.html",
            "Pictures which were shared online and are now spreading on social media, show "
            "Nigerian singer, Ada Okonkwo, looking radiant in a new beaded gown designed by her "
            "sister.",
            ["See more photos", "Ada Okonkwo Ada"],
        ),
        (
            "box-score.html",
            "Riverside's boys basketball team built a 14-point lead",
            ["Dawes 17", "Pike 27", "Tickets", "$5 students"],
        ),
        (
            "sidebar-first.html",
            "Following its 16-inch Slate, Lumen plans to release a 14-inch model",
            ["low-light mode", "taken apart by a repair shop"],
        ),
        (
            # The page's description is the lede without the link's pop-up card inside it.
            "popup-card.html",
            "Nevada Gov. Rosa Alvarado (D) is defending the state's new water conservation",
            ["Rosa Maria Alvarado", "MORE"],
        ),
        (
            # The first body paragraph leans on the lede shown in a summary box.
            "summary-box.html",
            "Two miners were killed and five were injured when a wall of the Santa Lucía",
            ["Like this story"],
        ),
        (
            # The lede is loose text in the article's container, which extractors drop.
            "loose-lede.html",
            "We round up the best deals we have found today on games, consoles, headphones",
            ["Welcome to Weekend Deals", "Follow us", "would be glad of"],
        ),
        (
            # A heading without a full stop is never glued to the paragraph after it.
            "dek-heading.html",
            "The Stags spent Monday trying to move on from Sunday's brawl",
            ["One Falcons defender", "Newsletter"],
        ),
        (
            # Nothing to extract but the page's JSON-LD articleBody.
            "jsonld-body.html",
            "The city opened 42 cooling centers on Monday",
            ["enable JavaScript", "<p>"],
        ),
    ],
)
def test_summary_opens_with_the_lede_and_leaves_furniture_out(
    name: str, lede: str, absent: list[str]
) -> None:
    summary = summarize_html(page_html(name), url="https://news.example/story")
    assert summary.startswith(lede), summary
    assert len(summary) <= 400
    for text in absent:
        assert text not in summary, (text, summary)


def test_page_metadata_is_read() -> None:
    page = read_page(page_html("reprint-notice.html"))
    assert page is not None
    assert page.title == "Port authority approves $640 million terminal expansion"
    assert page.description is not None and page.description.startswith("The port authority")
    assert page.article_body is None
    assert any(b.kind == "p" for b in page.blocks)

    body_page = read_page(page_html("jsonld-body.html"))
    assert body_page is not None and body_page.article_body is not None
    assert body_page.article_body.split("\n\n")[1].startswith("The centers, in libraries")


def test_block_kinds_and_emphasis_come_from_the_structure() -> None:
    page = read_page(page_html("loose-lede.html"))
    assert page is not None
    kinds = {b.kind for b in page.blocks}
    assert {"p", "head"} <= kinds
    notes = [b for b in page.blocks if b.emphasized]
    assert notes and notes[0].text.startswith("Welcome to Weekend Deals")


def test_main_text_keeps_paragraphs_apart() -> None:
    text = extract_main_text(page_html("box-score.html"))
    assert text is not None
    paragraphs = text.split("\n\n")
    assert paragraphs[0].startswith("Riverside's boys basketball team")
    assert all(p.endswith((".", '"', "”")) for p in paragraphs)


def block(text: str, kind: str = "p", *, emphasized: bool = False) -> Block:
    return Block(kind, text, emphasized)


def make_page(
    blocks: list[Block],
    *,
    title: str = "Ferry service resumes after storm",
    description: str | None = None,
    paragraphs: tuple[DomParagraph, ...] = (),
    article_body: str | None = None,
) -> Page:
    return Page(
        title=title,
        description=description,
        article_body=article_body,
        blocks=tuple(blocks),
        paragraphs=paragraphs,
    )


LEDE = (
    "Ferries between the mainland and Kellan Island resumed on Wednesday, three days after a "
    "storm tore two vessels from their moorings and damaged the main pier."
)
SECOND = "The operator said the first crossing left on time and carried about 200 passengers."


def test_blocks_before_the_headline_are_another_story() -> None:
    page = make_page(
        [
            block(
                "The new low-light mode uses the larger sensor in this year's phones, so indoor "
                "photos come out brighter."
            ),
            block("Ferry service resumes after storm", "head"),
            block(LEDE),
            block(SECOND),
        ]
    )
    assert story_paragraphs(page) == [LEDE, SECOND]


def test_headings_notes_and_furniture_are_not_story_paragraphs() -> None:
    page = make_page(
        [
            block("Ferries are running again", "head"),
            block("Editor's note: this story has been updated.", emphasized=True),
            block(LEDE),
            block("Already a subscriber? Log in to continue reading."),
            block("Read more: Storm damage in pictures"),
            block("Pier repairs", "head"),
            block(SECOND),
            block("Timetables", "item"),
        ]
    )
    assert story_paragraphs(page) == [LEDE, SECOND]


def test_runs_of_short_numeric_lines_are_a_table() -> None:
    scores = [block(line) for line in ("Crossings 14", "Passengers 2,310", "Delays 3")]
    page = make_page([*scores, block(LEDE), block(SECOND)])
    assert story_paragraphs(page) == [LEDE, SECOND]


def test_a_lede_lost_as_loose_text_is_found_in_its_container() -> None:
    paragraphs = (
        DomParagraph("Ferry service resumes after storm", container=1, heading=True),
        DomParagraph("By Jo Hale, Tuesday 9:15 am", container=2, heading=False),
        DomParagraph(LEDE, container=3, heading=False, loose=True),
        DomParagraph(SECOND, container=3, heading=False, loose=False),
        DomParagraph("Sign up for our newsletter", container=3, heading=False, loose=True),
    )
    page = make_page([block(SECOND)], paragraphs=paragraphs)
    assert story_paragraphs(page) == [LEDE, SECOND]

    # A <p> the extractor left out (a standfirst) is not brought back.
    standfirst = DomParagraph(LEDE, container=3, heading=False, loose=False)
    page = make_page([block(SECOND)], paragraphs=(paragraphs[0], standfirst, paragraphs[3]))
    assert story_paragraphs(page) == [SECOND]


def test_a_lede_in_a_summary_box_is_found_when_the_first_paragraph_leans_on_it() -> None:
    leaning = "In addition to the damaged pier, two ferries will be out of service for a month."
    paragraphs = (
        DomParagraph("Ferry service resumes after storm", container=1, heading=True),
        DomParagraph(LEDE, container=2, heading=False, loose=True),
        DomParagraph(leaning, container=3, heading=False),
    )
    page = make_page([block(leaning)], description=LEDE, paragraphs=paragraphs)
    assert story_paragraphs(page) == [LEDE, leaning]

    # A first paragraph that stands on its own keeps its place; the box is a standfirst.
    standalone = DomParagraph(SECOND, container=3, heading=False)
    page = make_page(
        [block(SECOND)], description=LEDE, paragraphs=(paragraphs[0], paragraphs[1], standalone)
    )
    assert story_paragraphs(page) == [SECOND]


def test_the_description_replaces_a_lede_with_an_insert() -> None:
    polluted = LEDE.replace("Kellan Island", "Kellan IslandKellan Island ferry guide MORE")
    page = make_page([block(polluted), block(SECOND)], description=LEDE)
    assert story_paragraphs(page) == [LEDE, SECOND]
    # A description that is only a teaser changes nothing.
    page = make_page([block(polluted), block(SECOND)], description="Ferries are back…")
    assert story_paragraphs(page)[0] == polluted


def test_without_extraction_the_article_body_then_the_visible_text_are_used() -> None:
    body = f"{LEDE}\n\n{SECOND}"
    assert story_paragraphs(make_page([], article_body=body)) == [LEDE, SECOND]
    paragraphs = (
        DomParagraph("Menu", container=1, heading=False),
        DomParagraph("Ferry service resumes after storm", container=2, heading=True),
        DomParagraph(LEDE, container=3, heading=False),
    )
    assert story_paragraphs(make_page([], paragraphs=paragraphs)) == [LEDE]


def test_dom_paragraphs_split_at_blocks_and_breaks_and_skip_furniture() -> None:
    root = lxml_html.fromstring(
        "<html><body><nav>Home | News</nav><h1>Head <em>line</em></h1>"
        "<div class='c'>Loose <em>text</em> here.<br><br>More loose text."
        "<p>A paragraph.</p><script>var x = 1;</script><aside>Sidebar</aside>Tail text."
        "</div><figure><figcaption>Caption</figcaption></figure></body></html>"
    )
    found = dom_paragraphs(root)
    assert [p.text for p in found] == [
        "Head line",
        "Loose text here.",
        "More loose text.",
        "A paragraph.",
        "Tail text.",
    ]
    head, loose, more, paragraph, tail = found
    assert head.heading and not loose.heading
    assert loose.loose and more.loose and tail.loose and not paragraph.loose
    assert loose.container == more.container == paragraph.container == tail.container
