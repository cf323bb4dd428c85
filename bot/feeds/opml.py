"""Read and write OPML feed lists (OPML 2.0, http://opml.org/spec2.opml).

Reading uses the standard library's expat parser, the one under `xml.etree`, with every
DTD refused: an OPML file has no use for one, and a DTD is where entity bombs ("billion
laughs") and external entities live. Input is bounded in size and in feeds.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

MAX_OPML_BYTES = 1024 * 1024
MAX_OPML_FEEDS = 5000
MAX_DEPTH = 64

# Characters XML 1.0 does not allow (§2.2); feed titles occasionally carry them.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class OpmlError(ValueError):
    """The file is not a usable OPML feed list; str() says why in a few words."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed of an OPML file."""

    url: str
    title: str | None = None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Return the feeds (outlines with an xmlUrl) of an OPML document, nested or not.

    Raise `OpmlError` for anything else: too large, not XML, a DTD, not OPML, no feeds.
    """
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"the file is larger than {MAX_OPML_BYTES // 1024} KiB")
    if not data.strip():
        raise OpmlError("the file is empty")
    collector = _Collector()
    parser = xml.parsers.expat.ParserCreate()
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = collector.refuse_doctype
    parser.EntityDeclHandler = collector.refuse_entity
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.errors.messages[exc.code]
        raise OpmlError(
            f"not an OPML file: not well-formed XML ({message} at line {exc.lineno})"
        ) from None
    if collector.root is None:
        raise OpmlError("not an OPML file: no XML elements")
    if not collector.feeds:
        raise OpmlError("the file lists no feeds (no <outline> with an xmlUrl attribute)")
    return collector.feeds


class _Collector:
    """Expat handlers that gather feed outlines."""

    def __init__(self) -> None:
        self.root: str | None = None
        self.feeds: list[OpmlFeed] = []
        self._seen: set[str] = set()
        self._depth = 0

    def refuse_doctype(self, *_: object) -> None:
        raise OpmlError("the file declares a DTD, which OPML never needs (refused for safety)")

    def refuse_entity(self, *_: object) -> None:
        raise OpmlError("the file declares XML entities (refused for safety)")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise OpmlError(f"outlines are nested more than {MAX_DEPTH} deep")
        if self.root is None:
            self.root = name
            if name.lower() != "opml":
                raise OpmlError(f"not an OPML file (its root element is <{name}>)")
        if name.lower() != "outline":
            return
        lowered = {key.lower(): value for key, value in attrs.items()}
        url = (lowered.get("xmlurl") or "").strip()
        if not url or url in self._seen:
            return
        if len(self.feeds) >= MAX_OPML_FEEDS:
            raise OpmlError(f"the file lists more than {MAX_OPML_FEEDS} feeds")
        self._seen.add(url)
        title = (lowered.get("title") or lowered.get("text") or "").strip()
        self.feeds.append(OpmlFeed(url=url, title=" ".join(title.split()) or None))

    def end(self, name: str) -> None:
        self._depth -= 1


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)


def export_opml(
    feeds: Sequence[OpmlFeed], *, title: str = "newsbot feeds", now: datetime | None = None
) -> str:
    """Return an OPML 2.0 document listing the feeds."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _clean(title)
    ET.SubElement(head, "dateCreated").text = format_datetime(
        (now or datetime.now(UTC)).astimezone(UTC), usegmt=True
    )
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = _clean(feed.title or feed.url)
        ET.SubElement(
            body,
            "outline",
            {"type": "rss", "text": name, "title": name, "xmlUrl": _clean(feed.url)},
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
