"""The visible paragraphs of a page in reading order, where an extractor may have lost some.

Extractors skip text that sits loose in a container (`<div>Text <em>x</em>. More<br><br>`)
rather than in `<p>` elements; that is often exactly where a page puts its lede. Here the
page's visible text is cut into paragraphs at block elements and line breaks, each with the
element that holds it, so the lede can be found again next to what was extracted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

# Elements whose text is never article prose: code, forms, navigation, sidebars, media.
_SKIPPED = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "title",
        "nav",
        "footer",
        "aside",
        "form",
        "button",
        "select",
        "option",
        "label",
        "textarea",
        "figure",
        "figcaption",
        "svg",
        "iframe",
        "object",
        "embed",
        "video",
        "audio",
        "picture",
        "map",
        "canvas",
        "dialog",
        "menu",
    ]
)
# Elements that end a paragraph; anything else (a, em, span, …) runs on inside it.
_BLOCKS = frozenset(
    [
        "html",
        "body",
        "main",
        "article",
        "section",
        "header",
        "div",
        "p",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "pre",
        "br",
        "hr",
        "center",
        "address",
        "details",
        "summary",
        "caption",
        "fieldset",
    ]
)
# Blocks that hold other blocks: text written straight into one of them is "loose".
_CONTAINERS = frozenset(["body", "main", "article", "section", "div", "header", "td", "center"])
_SPACES_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class DomParagraph:
    """One visible paragraph: its text, the element it sits in, and whether it is a heading."""

    text: str
    # Numbers the element whose own text this is, or for a <p> its parent's: paragraphs of
    # one article body share it.
    container: int
    heading: bool
    # Written straight into a container rather than in a <p>, <li> or heading.
    loose: bool = False


class _Collector:
    """Gathers text into paragraphs while walking the tree."""

    def __init__(self) -> None:
        self.paragraphs: list[DomParagraph] = []
        self.parts: list[str] = []
        self.container = 0
        self.heading = False
        self.loose = False

    def add(self, text: str | None, container: int, heading: bool, loose: bool) -> None:
        if text and not text.isspace():
            if not self.parts:
                self.container, self.heading, self.loose = container, heading, loose
            self.parts.append(text)

    def flush(self) -> None:
        if self.parts:
            text = _SPACES_RE.sub(" ", "".join(self.parts)).strip()
            if text:
                paragraph = DomParagraph(text, self.container, self.heading, self.loose)
                self.paragraphs.append(paragraph)
        self.parts = []


def _tag(element: etree._Element) -> str:
    """Return an element's lowercase tag name, or "" for comments and processing instructions."""
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def dom_paragraphs(root: etree._Element) -> list[DomParagraph]:
    """Return the visible paragraphs under root in reading order."""
    collector = _Collector()
    # The element holding the text being read, for each open element, numbered in order,
    # and the tag of the innermost block element.
    holders: list[int] = []
    inner: list[str] = []
    blocks = 0
    headings = 0
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = _tag(element)
        # Skipped elements (a sidebar, a form) also end the paragraph before them.
        block = tag in _BLOCKS or tag in _SKIPPED
        if event == "start":
            if not tag or tag in _SKIPPED:
                if block:
                    collector.flush()
                walker.skip_subtree()
                holders.append(holders[-1] if holders else 0)
                inner.append(inner[-1] if inner else "")
                continue
            if block:
                collector.flush()
                blocks += 1
                parent = holders[-1] if holders else 0
                holders.append(parent if tag == "p" else blocks)
                inner.append(tag)
            else:
                holders.append(holders[-1] if holders else 0)
                inner.append(inner[-1] if inner else "")
            if tag == "h1":
                headings += 1
            collector.add(element.text, holders[-1], headings > 0, inner[-1] in _CONTAINERS)
            continue
        holders.pop()
        inner.pop()
        if tag == "h1":
            headings -= 1
        if block:
            collector.flush()
        holder = holders[-1] if holders else 0
        collector.add(element.tail, holder, headings > 0, bool(inner) and inner[-1] in _CONTAINERS)
    collector.flush()
    return collector.paragraphs
