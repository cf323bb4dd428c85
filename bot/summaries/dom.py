"""The visible paragraphs of a page in reading order, where an extractor may have lost some.

Extractors skip text that sits loose in a container (`<div>Text <em>x</em>. More<br><br>`)
rather than in `<p>` elements; that is often exactly where a page puts its lede. Here the
page's visible text is cut into paragraphs at block elements and line breaks, each with the
element that holds it, so the lede can be found again next to what was extracted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

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
# Pictures: a line right below one, in the same container, may be its caption.
_VISUALS = frozenset(["img", "picture", "figure", "video", "svg", "iframe", "embed", "object"])
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
    # The numbers of the block elements it sits in, outermost first, ending with container.
    within: tuple[int, ...] = ()
    # The numbers of the elements holding a picture shown between the paragraph before
    # and this one.
    pictures: frozenset[int] = frozenset()

    @property
    def below_picture(self) -> bool:
        """Tell whether a picture sits right above it in its own container (as for a caption)."""
        return self.container in self.pictures


class _Collector:
    """Gathers text into paragraphs while walking the tree."""

    def __init__(self) -> None:
        self.paragraphs: list[DomParagraph] = []
        self.parts: list[str] = []
        self.started: DomParagraph | None = None
        self.pictures: frozenset[int] = frozenset()

    def picture(self, holders: list[int]) -> None:
        if not self.parts:
            self.pictures = self.pictures.union(holders)

    def add(self, text: str | None, holders: list[int], heading: bool, loose: bool) -> None:
        if text and not text.isspace():
            if not self.parts:
                within = tuple(h for i, h in enumerate(holders) if not i or holders[i - 1] != h)
                container = within[-1] if within else 0
                self.started = DomParagraph("", container, heading, loose, within, self.pictures)
                self.pictures = frozenset()
            self.parts.append(text)

    def flush(self) -> None:
        if self.parts and self.started is not None:
            text = _SPACES_RE.sub(" ", "".join(self.parts)).strip()
            if text:
                self.paragraphs.append(replace(self.started, text=text))
        self.parts = []


def _tag(element: etree._Element) -> str:
    """Return an element's lowercase tag name, or "" for comments and processing instructions."""
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def _is_picture(tag: str, element: etree._Element) -> bool:
    """Tell whether an element shows a picture whose caption may be the next line.

    A figure with a figcaption carries its own caption.
    """
    if tag not in _VISUALS:
        return False
    return tag != "figure" or element.find(".//figcaption") is None


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
                if _is_picture(tag, element):
                    collector.picture(holders)
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
                if _is_picture(tag, element):
                    collector.picture(holders)
                holders.append(holders[-1] if holders else 0)
                inner.append(inner[-1] if inner else "")
            if tag == "h1":
                headings += 1
            collector.add(element.text, holders, headings > 0, inner[-1] in _CONTAINERS)
            continue
        holders.pop()
        inner.pop()
        if tag == "h1":
            headings -= 1
        if block:
            collector.flush()
        collector.add(element.tail, holders, headings > 0, bool(inner) and inner[-1] in _CONTAINERS)
    collector.flush()
    return collector.paragraphs
