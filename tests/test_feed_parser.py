"""Feed parsing on RSS 2.0, RSS 1.0 and Atom fixtures, and on things that are not feeds."""

from __future__ import annotations

import os
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.feeds import parser
from bot.feeds.parser import (
    MAX_ENTRIES,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    FeedParseError,
    ParsedFeed,
    html_to_text,
    parse_feed,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def load(name: str, url: str) -> ParsedFeed:
    return parse_feed((FIXTURES / name).read_bytes(), url=url, headers=RSS_HEADERS, now=NOW)


@pytest.fixture
def harbor() -> ParsedFeed:
    return load("harbor_rss2.xml", "https://gazette.example.org/feeds/top.xml")


def test_rss2_channel(harbor: ParsedFeed) -> None:
    assert harbor.title == "Harbor & Hill Gazette"
    assert harbor.link == "https://gazette.example.org/"  # relative <link> resolved
    assert harbor.ttl_seconds == 45 * 60


def test_rss2_entry_with_markup_in_title_and_content_encoded(harbor: ParsedFeed) -> None:
    first = harbor.entries[0]
    assert first.key == "guid:gazette-41822"
    assert first.title == "Council approves new footbridge over Mill Creek & 5 < 6 objections"
    assert first.link == (
        "https://gazette.example.org/stories/2025/03/footbridge-approved"
        "?utm_source=rss&utm_medium=feed&ref=home"
    )
    assert first.canonical_link == (
        "https://gazette.example.org/stories/2025/03/footbridge-approved?ref=home"
    )
    assert first.summary == (
        "The harbor council voted 7–2 on Tuesday to fund a pedestrian bridge.\n\n"
        "Work starts in June, the clerk said."
    )
    assert first.content_html is not None
    assert "ending a dispute that has run since 2019" in first.content_html
    assert "<script" not in first.content_html  # feedparser's sanitizer ran
    assert 'href="https://gazette.example.org/maps/mill-creek"' in first.content_html
    assert first.categories == ("Local Government", "Transport")
    assert first.author == "Ana Ruiz"
    assert first.published == datetime(2025, 3, 4, 8, 15, tzinfo=UTC)


def test_rss2_entries_order_dedup_and_skips(harbor: ParsedFeed) -> None:
    titles = [e.title for e in harbor.entries]
    assert titles == [
        "Council approves new footbridge over Mill Creek & 5 < 6 objections",
        "Ferry timetable changes for the spring season",
        "Lighthouse keeper's logbooks go on display",
        "",
        "School choir tour dated far ahead",
    ]
    # The repeated guid keeps the first copy; the empty item is skipped.
    assert len({e.key for e in harbor.entries}) == len(harbor.entries)


def test_rss2_links_keys_and_dates(harbor: ParsedFeed) -> None:
    ferry, logbooks, notice, choir = harbor.entries[1:]
    assert ferry.key == "link:https://gazette.example.org/stories/2025/03/ferry-timetable"
    assert ferry.content_html is None
    assert ferry.published == datetime(2025, 3, 3, 17, 40, tzinfo=UTC)
    assert logbooks.key == "guid:https://gazette.example.org/stories/2025/03/logbooks"
    assert logbooks.link == "https://gazette.example.org/stories/2025/03/logbooks"
    # A 1970 pubDate is a placeholder; the updated date is used instead.
    assert logbooks.published == datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
    assert notice.key.startswith("hash:") and notice.link is None
    assert notice.summary.startswith("A short notice with no title")
    assert choir.link is None  # mailto: is not a story link
    assert choir.published is None  # year 2100 is absurd
    for entry in harbor.entries:
        assert entry.published is None or entry.published.tzinfo is UTC


def test_atom_feed() -> None:
    feed = load("ridge_atom.xml", "https://ridge.example.net/atom.xml")
    assert feed.title == "Ridge Notes"
    assert feed.link == "https://ridge.example.net/"
    assert feed.ttl_seconds is None
    snow, loop, ratings = feed.entries
    assert snow.key == "guid:tag:ridge.example.net,2025:snowpack"
    assert snow.link == "https://ridge.example.net/posts/2025/snowpack"  # xml:base applied
    assert snow.summary == "Survey teams measured 3.1 m at the upper station."
    assert snow.content_html is not None and "https://ridge.example.net/img/snow.jpg" in (
        snow.content_html
    )
    assert snow.categories == ("weather", "mountains")
    assert snow.author == "Li Wei"
    assert snow.published == datetime(2025, 2, 10, 12, 30, tzinfo=UTC)
    assert loop.title == "Trail crews reopen the north loop"
    assert loop.summary == "The loop had been shut since the October rockfall."
    assert loop.content_html == "<p>The loop had been shut since the <i>October</i> rockfall.</p>"
    assert loop.published == datetime(2025, 2, 8, 16, 0, tzinfo=UTC)  # updated, no published
    # A text construct keeps its literal "<"; a tag: id is not a web link.
    assert ratings.title == "Why 2 < 3 matters for avalanche ratings"
    assert ratings.link is None and ratings.content_html is None


def test_rdf_feed() -> None:
    feed = load("valley_rdf.xml", "https://valley.example.com/rss")
    assert feed.title == "Valley Courier"
    frost, bus = feed.entries
    assert frost.title == "Late frost threatens apple blossom in the lower orchards"
    assert frost.link == "https://valley.example.com/news/orchard-frost"
    assert frost.categories == ("Farming",)
    assert frost.author == "Marta Nowak"
    assert frost.published == datetime(2025, 4, 12, 3, 45, tzinfo=UTC)
    assert bus.published == datetime(2025, 4, 11, 9, 0, tzinfo=UTC)


def test_feed_without_entries_is_valid() -> None:
    body = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>Quiet Week</title>"
        b"<link>https://quiet.example.org/</link><ttl>soon</ttl></channel></rss>"
    )
    feed = parse_feed(body, url="https://quiet.example.org/rss")
    assert feed.title == "Quiet Week" and feed.entries == () and feed.ttl_seconds is None


def test_relative_links_resolve_against_feed_url() -> None:
    body = (
        b"<rss version='2.0'><channel><title>T</title>"
        b"<item><title>A</title><link>../stories/a.html</link></item>"
        b"<item><title>B</title><link>javascript:alert(1)</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(body, url="https://site.example/feeds/rss.xml")
    assert feed.entries[0].link == "https://site.example/stories/a.html"
    assert feed.entries[1].link is None


def test_long_texts_are_cut_and_entries_capped() -> None:
    words = " ".join(["harbor"] * 1000).encode()
    long_item = b"<item><title>%s</title><description>%s</description></item>" % (words, words)
    items = b"".join(
        b"<item><title>Story %d</title><link>https://big.example/%d</link></item>" % (i, i)
        for i in range(MAX_ENTRIES + 20)
    )
    body = b"<rss version='2.0'><channel><title>Big</title>%s%s</channel></rss>" % (
        long_item,
        items,
    )
    feed = parse_feed(body, url="https://big.example/rss")
    assert len(feed.entries) == MAX_ENTRIES
    first = feed.entries[0]
    assert len(first.title) <= MAX_TITLE_CHARS and first.title.endswith("harbor…")
    assert len(first.summary) <= MAX_SUMMARY_CHARS and first.summary.endswith("harbor…")
    assert feed.entries[-1].link == f"https://big.example/{MAX_ENTRIES - 2}"


def test_broken_feed_is_repaired() -> None:
    body = (
        b"<rss version='2.0'><channel><title>Sloppy &amp; Sons</title>"
        b"<item><title>Mayor&nbsp;resigns & leaves town</title>"
        b"<link>https://sloppy.example/1</link></item></channel>"
    )
    feed = parse_feed(body, url="https://sloppy.example/rss")
    assert [e.link for e in feed.entries] == ["https://sloppy.example/1"]
    assert feed.entries[0].title.startswith("Mayor")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ((FIXTURES / "town_homepage.html").read_bytes(), "not a feed (looks like an HTML page)"),
        (b"<html><body><item><title>x</title></item></body></html>", "looks like an HTML page"),
        (b"", "empty body"),
        (b"  \r\n\t ", "empty body"),
        (b"\x00\x9f\x92\x11garbage\xff\xfe" * 50, "not XML"),
        (b"Service temporarily unavailable", "not XML"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "looks like JSON"),
        ((FIXTURES / "sitemap.xml").read_bytes(), "not a feed (XML document with root <urlset>)"),
        (b"<?xml version='1.0'?><rss version='2.0'></rss>", "not a feed (no channel"),
    ],
)
def test_not_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(FeedParseError) as caught:
        parse_feed(body, url="https://gazette.example.org/feeds/top.xml")
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_random_bytes_are_not_a_feed() -> None:
    body = os.urandom(4096)
    with pytest.raises(FeedParseError):
        parse_feed(body.replace(b"<", b"."), url="https://x.example/rss")


def test_body_naming_a_local_file_is_not_read(tmp_path: Path) -> None:
    # feedparser treats a bare bytes argument as a file name first.
    local = tmp_path / "local.xml"
    local.write_bytes((FIXTURES / "valley_rdf.xml").read_bytes())
    with pytest.raises(FeedParseError, match="not XML"):
        parse_feed(str(local).encode(), url="https://x.example/rss")


def test_billion_laughs_is_refused_quickly() -> None:
    body = (FIXTURES / "billion_laughs.xml").read_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FeedParseError, match="declares XML entities"):
            parse_feed(body, url="https://laughs.example.org/rss")
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024


def test_entity_bomb_on_one_line_is_refused() -> None:
    levels = ['<!ENTITY a0 "ha">'] + [
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    ]
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [' + "".join(levels) + "]>"
        '<rss version="2.0"><channel><title>One line</title><item><title>&a9;</title>'
        "<link>https://bomb.example/1</link></item></channel></rss>"
    ).encode()
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse_feed(body, url="https://bomb.example/rss")


def test_entity_declarations_outside_a_doctype_are_refused() -> None:
    body = b'<?xml version="1.0"?><!ENTITY x "y"><rss version="2.0"><channel/></rss>'
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse_feed(body, url="https://x.example/rss")


def test_external_entities_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-7731")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY leak SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>Leaky</title><item><title>before &leak; after</title>'
        "<link>https://leak.example/1</link><description>&leak;</description></item>"
        "</channel></rss>"
    ).encode()
    with pytest.raises(FeedParseError, match="declares XML entities") as refused:
        parse_feed(body, url="https://leak.example/rss")
    assert "TOPSECRET" not in str(refused.value)


def test_a_doctype_without_entities_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC '
        b'"-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>Old School</title><link>https://old.example/</link><item><title>Still here</title>"
        b"<link>https://old.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(body, url="https://old.example/rss")
    assert [e.title for e in feed.entries] == ["Still here"]


def test_large_broken_documents_skip_the_slow_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "LOOSE_PARSE_MAX_BYTES", 10_000)
    body = b"<rss version='2.0'><channel><title>T</title>" + b"<item><p>x</item>" * 2000
    started = time.perf_counter()
    with pytest.raises(FeedParseError, match="too large to repair"):
        parse_feed(body, url="https://x.example/rss")
    assert time.perf_counter() - started < 1.0


def test_windows_1252_feed() -> None:
    body = (
        "<?xml version='1.0' encoding='windows-1252'?><rss version='2.0'><channel>"
        "<title>Caf\u00e9 Notes</title>"
        "<item><title>Cr\u00e8me br\u00fbl\u00e9e \u2013 a review</title>"
        "<link>https://cafe.example/1</link></item></channel></rss>"
    ).encode("cp1252")
    feed = parse_feed(body, url="https://cafe.example/rss")
    assert feed.title == "Café Notes"
    assert feed.entries[0].title == "Crème brûlée – a review"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One  two\n three</p><p>Second<br>line</p>", "One two three\n\nSecond\nline"),
        ("Tom &amp; Jerry &eacute;t&eacute; &#8212; 5 < 6", "Tom & Jerry été — 5 < 6"),
        ("<div><script>var a = '<p>';</script><style>p{}</style>Shown</div>", "Shown"),
        ("<ul><li>first</li><li>second</li></ul>", "first\n\nsecond"),
        ("<b>bold</b> and <a href='x'>link</a>", "bold and link"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
