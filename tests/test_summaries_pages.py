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
        (
            # A first paragraph without a full stop opens the summary, closed with "…";
            # a later open paragraph is never used.
            "open-lede.html",
            "Harbor City have this morning paid the £48million release fee to secure the "
            "signing of Brenner Vale striker Tomas Okwu on a five-year contract… Okwu will",
            ["The fee breaks", "Tags"],
        ),
        (
            # A first paragraph ending with a colon introduces a timeline; the times and
            # rules between its entries are left out.
            "timeline-lede.html",
            "The Latest on a freight train that left the tracks near a river crossing in "
            "northern Oregon (all times local)… Crews have pulled",
            ["9 p.m.", "___", "MILLBROOK"],
        ),
        (
            # Hashtags and a handle after the lede's last sentence are dropped, not the lede.
            "hashtag-lede.html",
            "After three months of tasting, arguing and tasting again, our spring menu "
            "finally arrives on Friday",
            ["#", "@bramblekitchen"],
        ),
        (
            # A caption-shaped line right below a picture is not taken for an open lede.
            "caption-first.html",
            "Nevada Governor Rosa Alvarado signed an order on Wednesday",
            ["waves to supporters"],
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


OPEN = (
    "Ferries between the mainland and Kellan Island are running again this morning after "
    "three days without a crossing"
)


def open_page(*, opening: DomParagraph, before: tuple[Block, ...] = ()) -> Page:
    """Return a page whose first paragraph is OPEN, with its visible paragraphs."""
    paragraphs = (
        DomParagraph("Ferry service resumes after storm", container=1, heading=True),
        opening,
        DomParagraph(SECOND, container=3, heading=False),
    )
    return make_page([*before, block(OPEN), block(SECOND)], paragraphs=paragraphs)


def test_a_first_paragraph_left_open_is_the_lede_when_it_sits_in_the_body() -> None:
    page = open_page(opening=DomParagraph(OPEN, container=3, heading=False, loose=True))
    assert story_paragraphs(page) == [f"{OPEN}…", SECOND]
    # Notes, short labels and furniture before it are passed over.
    before = (
        block("Editor's note: times are local.", emphasized=True),
        block("Kellan Island, Wednesday"),
        block("Already a subscriber? Log in to continue reading."),
    )
    opening = DomParagraph(OPEN, container=3, heading=False)
    assert story_paragraphs(open_page(opening=opening, before=before)) == [f"{OPEN}…", SECOND]


@pytest.mark.parametrize(
    "opening",
    [
        # Right below a picture in its own container: a caption.
        DomParagraph(OPEN, container=3, heading=False, pictures=frozenset({1, 3})),
        # In a container of its own (a caption box, a standfirst), apart from the body.
        DomParagraph(OPEN, container=2, heading=False),
        # Not found in the page's visible text.
        DomParagraph("Timetables and fares", container=3, heading=False),
    ],
)
def test_an_open_paragraph_outside_the_body_is_not_the_lede(opening: DomParagraph) -> None:
    assert story_paragraphs(open_page(opening=opening)) == [SECOND]


def test_an_open_paragraph_after_other_text_is_not_the_lede() -> None:
    torn = block("Island. A preview of the timetable was shared with season ticket holders.")
    opening = DomParagraph(OPEN, container=3, heading=False)
    assert story_paragraphs(open_page(opening=opening, before=(torn,))) == [SECOND]


def test_dom_paragraphs_mark_lines_right_below_a_picture_and_what_holds_them() -> None:
    root = lxml_html.fromstring(
        "<html><body><header><figure><img src='a.jpg'></figure></header>"
        "<div class='body'><p>First line below the header.</p>"
        "<p><img src='b.jpg'></p><p>Caption below a picture</p><p>Text after it.</p>"
        "<figure><img src='c.jpg'><figcaption>Own caption</figcaption></figure>"
        "<p>Text after a captioned figure.</p>"
        "<div class='pic'><img src='d.jpg'></div>Loose line below a picture<br>"
        "</div></body></html>"
    )
    found = dom_paragraphs(root)
    below = {p.text: p.below_picture for p in found}
    assert below == {
        "First line below the header.": False,
        "Caption below a picture": True,
        "Text after it.": False,
        "Text after a captioned figure.": False,
        "Loose line below a picture": True,
    }
    first, *_, loose = found
    assert first.within[-1] == first.container == loose.container
    assert loose.within[:-1] and all(n < loose.container for n in loose.within[:-1])


FERRIES = (
    "Ferries between the mainland and Kellan Island are running again this morning after "
    "three days without a crossing"
)
OPERATOR = (
    "The operator said the first crossing left on time at six and carried about 200 "
    "passengers and forty cars."
)
REPAIRS = (
    "Repairs to the main pier will take another month, and the evening crossings stay "
    "cancelled until then."
)


def ferry_page(body: str) -> str:
    """Return a small article page around the given body markup."""
    return (
        "<html><head><title>Ferries run again</title></head><body>"
        "<div class='top'><a href='/'>Island Courier</a></div><article><h1>Ferries run again</h1>"
        f"<div class='meta'>By Jo Hale</div>{body}</article></body></html>"
    )


@pytest.mark.parametrize(
    ("body", "opens_left_open"),
    [
        (f"<div class='b'><p>{FERRIES}</p><p>{OPERATOR}</p><p>{REPAIRS}</p></div>", True),
        (f"<div class='b'>{FERRIES}<br><br>{OPERATOR}<br><br>{REPAIRS}</div>", True),
        (
            f"<div class='b'><div>{FERRIES}</div><div><br></div><div>{OPERATOR}</div>"
            f"<div>{REPAIRS}</div></div>",
            True,
        ),
        # A timeline's entries, each in a box inside the body.
        (
            f"<div class='b'><p>{FERRIES}:</p><div class='e'><p>9 a.m.</p><p>{OPERATOR}</p>"
            f"</div><div class='e'><p>{REPAIRS}</p></div></div>",
            True,
        ),
        # A picture above the body, outside its container, is no caption's.
        (
            f"<figure><img src='h.jpg'></figure><div class='b'><p>{FERRIES}</p><p>{OPERATOR}</p>"
            f"<p>{REPAIRS}</p></div>",
            True,
        ),
        # Right below a picture: a caption.
        (
            f"<div class='b'><p><img src='a.jpg'></p><p>{FERRIES}</p><p>{OPERATOR}</p>"
            f"<p>{REPAIRS}</p></div>",
            False,
        ),
        (
            f"<div class='b'><div class='s'><a href='a.jpg'><img src='a.jpg'></a></div>"
            f"<div>{FERRIES}</div><div>{OPERATOR}</div><div>{REPAIRS}</div></div>",
            False,
        ),
        # In a box of its own beside the body: a standfirst or a caption box.
        (
            f"<div class='s'><p>{FERRIES}</p></div><div class='b'><p>{OPERATOR}</p>"
            f"<p>{REPAIRS}</p></div>",
            False,
        ),
        (
            f"<div class='b'><div class='p'><img src='a.jpg'></div><div class='c'>{FERRIES}"
            f"</div><p>{OPERATOR}</p><p>{REPAIRS}</p></div>",
            False,
        ),
    ],
)
def test_a_first_paragraph_left_open_opens_the_summary_only_from_the_body(
    body: str, opens_left_open: bool
) -> None:
    summary = summarize_html(ferry_page(body))
    expected = f"{FERRIES}… {OPERATOR}" if opens_left_open else OPERATOR
    assert summary.startswith(expected), summary
