"""OPML feed lists: reading them safely, writing them, and the round trip."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.feeds.opml import MAX_OPML_BYTES, OpmlError, OpmlFeed, export_opml, parse_opml

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My reading list</title></head>
  <body>
    <outline text="World">
      <outline text="Example Wire" type="rss" xmlUrl="https://wire.example.org/world.xml"
               htmlUrl="https://wire.example.org/"/>
      <outline text="Regional">
        <outline title="Valley  News" text="ignored" xmlUrl="https://valley.example.net/rss"/>
      </outline>
    </outline>
    <outline text="A folder without feeds"/>
    <outline type="rss" xmlurl="http://lower.example.com/feed?a=1&amp;b=2"/>
    <outline text="Duplicate" xmlUrl="https://wire.example.org/world.xml"/>
  </body>
</opml>
"""


def test_nested_outlines_and_attribute_spellings() -> None:
    assert parse_opml(NESTED) == [
        OpmlFeed(url="https://wire.example.org/world.xml", title="Example Wire"),
        OpmlFeed(url="https://valley.example.net/rss", title="Valley News"),
        OpmlFeed(url="http://lower.example.com/feed?a=1&b=2", title=None),
    ]


def test_round_trip() -> None:
    feeds = [
        OpmlFeed(url="https://wire.example.org/world.xml?x=1&y=<2>", title='Wire "World" & more'),
        OpmlFeed(url="https://valley.example.net/rss", title=None),
        OpmlFeed(url="https://bad.example.org/feed", title="Bell\x07 in the title"),
    ]
    document = export_opml(feeds, now=datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    assert "<dateCreated>Fri, 27 Nov 2026 12:00:00 GMT</dateCreated>" in document
    back = parse_opml(document.encode("utf-8"))
    assert [f.url for f in back] == [f.url for f in feeds]
    assert [f.title for f in back] == [
        'Wire "World" & more',
        "https://valley.example.net/rss",  # a feed without a title is named by its URL
        "Bell in the title",
    ]


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY a "aaaaaaaaaa">\n'
    + b"".join(
        b'<!ENTITY a%d "%s">\n' % (n, (b"&a%d;" % (n - 1) if n > 1 else b"&a;") * 10)
        for n in range(1, 10)
    )
    + b']>\n<opml version="2.0"><body><outline text="&a9;" xmlUrl="https://x.example/"/>'
    b"</body></opml>"
)

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.example/"/></body></opml>
"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BILLION_LAUGHS, "declares a DTD"),
        (EXTERNAL_ENTITY, "declares a DTD"),
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not well-formed XML"),
        (b"name,url\nWire,https://wire.example.org/world.xml\n", "not well-formed XML"),
        (b'<rss version="2.0"><channel/></rss>', "its root element is <rss>"),
        (b'<opml version="2.0"><body><outline text="x"/></body></opml>', "lists no feeds"),
        (b"<opml>" + b"<outline>" * 100 + b"</outline>" * 100 + b"</opml>", "nested more than"),
        (b"<opml>" + b" " * MAX_OPML_BYTES + b"</opml>", "larger than 1024 KiB"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(OpmlError) as caught:
        parse_opml(data)
    assert reason in str(caught.value)
    assert time.monotonic() - started < 1


def test_feed_count_is_bounded() -> None:
    outlines = b"".join(b'<outline xmlUrl="https://f%d.example.org/rss"/>' % n for n in range(5001))
    with pytest.raises(OpmlError, match="more than 5000 feeds"):
        parse_opml(b'<opml version="2.0"><body>' + outlines + b"</body></opml>")
