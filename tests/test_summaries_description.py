"""A feed's clean, complete description against the extracted story: which one is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import get_settings
from bot.feeds.fetcher import build_client
from bot.feeds.parser import ParsedEntry
from bot.ingest.articles import ArticlePages, StorySummarizer
from bot.ingest.workers import HostSlots, fetch_limits
from bot.summaries import clean_description, prefer_description
from tests.support.feed_server import FeedServer

TITLE = "Ferry service resumes after storm"
WIRE = (
    "Ferries between the mainland and Kellan Island resumed on Wednesday, three days after a "
    "storm tore two vessels from their moorings and damaged the main pier."
)
PAGE_SUMMARY = (
    "Ferries between the mainland and Kellan Island resumed on Wednesday, three days after a "
    "storm tore two vessels from their moorings and damaged the main pier. The operator said "
    "the first crossing carried about 200 passengers."
)
SIDEBAR = "The new low-light mode uses the larger sensor in this year's phones."


@pytest.mark.parametrize(
    "description",
    [
        WIRE,
        f"{WIRE}\n\nThe operator said the first crossing carried about 200 passengers.",
        f"{WIRE}\n\nThe post {TITLE} appeared first on Island Courier.",
    ],
)
def test_clean_complete_descriptions(description: str) -> None:
    clean = clean_description(description, title=TITLE)
    assert clean is not None and clean.startswith("Ferries between the mainland")
    assert "appeared first" not in clean


@pytest.mark.parametrize(
    "description",
    [
        None,
        "",
        "Ferries are back.",  # too short to describe the story
        "Ferries between the mainland and Kellan Island resumed on Wednesday, three days…",
        "Ferries between the mainland and Kellan Island resumed on Wednesday [...]",
        f"{WIRE} Read more",
        f"{WIRE} Continue reading Ferry service resumes",
        "ferries between the mainland and Kellan Island resumed on Wednesday after the storm.",
        "Ferries between the mainland and Kellan Island resumed on Wednesday after the storm",
        "Already a subscriber? Log in to continue reading this story about the ferries.",
        "Ferry Service Resumes After Storm.",  # the headline again
    ],
)
def test_descriptions_that_are_not_clean_or_complete(description: str | None) -> None:
    assert clean_description(description, title=TITLE) is None


def test_the_description_wins_over_an_extraction_that_opens_elsewhere() -> None:
    assert prefer_description(SIDEBAR, description=WIRE, title=TITLE) == WIRE
    assert prefer_description("", description=WIRE, title=TITLE) == WIRE
    broken = "make-up photos. to her Instagram page."
    assert prefer_description(broken, description=WIRE, title=TITLE) == WIRE


def test_an_extraction_that_opens_like_the_description_is_kept() -> None:
    assert prefer_description(PAGE_SUMMARY, description=WIRE, title=TITLE) == PAGE_SUMMARY


def test_without_a_clean_description_the_extraction_stays() -> None:
    teaser = "Ferries are back. Read more"
    assert prefer_description(SIDEBAR, description=teaser, title=TITLE) == SIDEBAR
    assert prefer_description(SIDEBAR, description=None, title=TITLE) == SIDEBAR
    # An empty extraction still falls back to what the blurb gives.
    short = "Ferries resumed on Wednesday."
    assert prefer_description("", description=short, title=TITLE) == short


def test_the_description_is_fitted_to_the_budget() -> None:
    long = f"{WIRE} The operator said the first crossing carried about 200 passengers."
    summary = prefer_description(SIDEBAR, description=long, title=TITLE, max_chars=200)
    assert summary == WIRE


SIDEBAR_PAGE = f"""<html><head><title>{TITLE}</title></head><body>
<div class="promo"><p>{SIDEBAR} It lets in more light, so indoor photos come out brighter and
sharper than before, the maker said on Monday.</p></div>
<div class="article"><p>Subscribe to read the full story about the ferries.</p></div>
</body></html>"""
STORY_PAGE = f"""<html><head><title>{TITLE}</title></head><body><article>
<h1>{TITLE}</h1><p>{WIRE}</p>
<p>The operator said the first crossing carried about 200 passengers, and that a timetable
with extra sailings would run until the end of the month.</p>
<p>Repairs to the main pier are expected to take six weeks, the harbour office said.</p>
</article></body></html>"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


@pytest.fixture
async def summarizer() -> AsyncIterator[StorySummarizer]:
    settings = get_settings(allow_private_networks=True)
    limits = fetch_limits(settings)
    client = build_client(allow_private_networks=True, limits=limits)
    pages = ArticlePages(
        client=client, limits=limits, hosts=HostSlots(4), pool_size=4, deadline_seconds=10
    )
    story = StorySummarizer(settings=settings, pages=pages)
    yield story
    await story.aclose()
    await client.aclose()


def entry(link: str, description: str) -> ParsedEntry:
    return ParsedEntry(
        key=link,
        link=link,
        canonical_link=link,
        title=TITLE,
        summary=description,
        content_html=None,
        categories=(),
        published=None,
        author=None,
    )


async def test_story_summarizer_prefers_the_wire_description_to_a_sidebar(
    server: FeedServer, summarizer: StorySummarizer
) -> None:
    server.set("/sidebar", SIDEBAR_PAGE, content_type="text/html; charset=utf-8")
    summary = await summarizer.summarize(entry(server.url("/sidebar"), WIRE))
    assert summary == WIRE
    assert server.hits("/sidebar") == 1


async def test_story_summarizer_keeps_a_page_that_agrees_with_the_description(
    server: FeedServer, summarizer: StorySummarizer
) -> None:
    server.set("/story", STORY_PAGE, content_type="text/html; charset=utf-8")
    summary = await summarizer.summarize(entry(server.url("/story"), WIRE))
    assert summary.startswith(WIRE)
    assert "200 passengers" in summary


async def test_story_summarizer_uses_the_page_when_the_blurb_is_a_teaser(
    server: FeedServer, summarizer: StorySummarizer
) -> None:
    server.set("/story", STORY_PAGE, content_type="text/html; charset=utf-8")
    summary = await summarizer.summarize(entry(server.url("/story"), "Ferries are back…"))
    assert summary.startswith(WIRE)
