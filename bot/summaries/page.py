"""Read an article page: its main text as typed blocks, and what the page says about itself.

trafilatura finds the main text; asked for its XML with formatting, it also says what each
block is (paragraph, heading, list item, quote, code; tables are left out) and whether a
block is all bold or italic (notes, disclaimers, captions). The page's own metadata — its title, its
og:description and a JSON-LD articleBody — is read from the same tree.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import trafilatura
from lxml import etree
from trafilatura.utils import load_html

from bot.summaries.dom import DomParagraph, dom_paragraphs
from bot.summaries.fragments import DANGLING_WORDS, ends_like_sentence

logger = logging.getLogger(__name__)

_SPACES_RE = re.compile(r"\s+")
_DOCUMENT_RE = re.compile(r"<\s*(?:html|body)\b", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]+>")
_MARKUP_RE = re.compile(r"<\s*/?\s*(?:p|br|div|a|em|strong|span|b|i)\b", re.IGNORECASE)
_ARTICLE_TYPES = re.compile(r"article|posting|report|blog", re.IGNORECASE)
# Less text than this from a page is a menu or an error notice, not a story.
_MIN_TEXT_CHARS = 40
_JSON_LD_MAX_CHARS = 500_000

# trafilatura's XML elements for the kinds of block kept (list items are read from lists).
_KINDS = frozenset(("p", "head", "quote", "code"))


@dataclass(frozen=True)
class Block:
    """One block of the main text: a paragraph, heading, list item, quote or code line."""

    kind: str
    text: str
    # All of it bold or italic: an editor's note, a disclaimer, a caption, a kicker.
    emphasized: bool = False


@dataclass(frozen=True)
class Page:
    """What a page offers for a summary."""

    title: str | None
    description: str | None
    article_body: str | None
    blocks: tuple[Block, ...]
    paragraphs: tuple[DomParagraph, ...]


def _squeeze(text: str | None) -> str:
    """Collapse runs of whitespace."""
    return _SPACES_RE.sub(" ", text or "").strip()


def _emphasized(element: etree._Element) -> bool:
    """Tell whether all of an element's text sits in bold or italic children."""
    if (element.text or "").strip():
        return False
    children = [child for child in element if child.tag != "lb"]
    return bool(children) and all(
        child.tag == "hi" and not (child.tail or "").strip() for child in children
    )


def _continues(line: str, following: str) -> bool:
    """Tell whether a line break falls inside a sentence rather than between two lines.

    A page that wraps its paragraphs with <br> breaks before a lowercase word or after a
    word no sentence ends with; a box score or an address breaks after whole lines.
    """
    if ends_like_sentence(line):
        return False
    last = line.rsplit(" ", 1)[-1].lower()
    return following[:1].islower() or last in DANGLING_WORDS or line.endswith(",")


def _lines(kind: str, element: etree._Element) -> Iterator[Block]:
    """Yield an element's text as blocks, one per line (a break inside a sentence is a space)."""
    emphasized = _emphasized(element)
    for lb in element.iter("lb"):
        lb.tail = "\n" + (lb.tail or "")
    lines = [_squeeze(line) for line in "".join(element.itertext()).split("\n")]
    run = ""
    for line in filter(None, lines):
        if run and not _continues(run, line):
            yield Block(kind, run, emphasized)
            run = ""
        run = f"{run} {line}" if run else line
    if run:
        yield Block(kind, run, emphasized)


def _blocks(body: etree._Element) -> list[Block]:
    """Return the main text's blocks in reading order; tables and images are left out."""
    blocks: list[Block] = []
    for element in body:
        if element.tag == "list":
            for item in element.iter("item"):
                blocks.extend(_lines("item", item))
        elif element.tag in _KINDS:
            blocks.extend(_lines(element.tag, element))
    return blocks


def _extract(tree: etree._Element, *, url: str | None, precise: bool) -> list[Block]:
    """Run trafilatura once and return its blocks, or [] when it finds no main text."""
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            favor_precision=precise,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            include_formatting=True,
            with_metadata=False,
        )
    except Exception as exc:  # the parser must never take the pipeline down
        logger.warning("Article extraction failed for %s: %s", url or "a page", exc)
        return []
    body = getattr(document, "body", None)
    if body is None:
        return []
    blocks = _blocks(body)
    if sum(len(b.text) for b in blocks) < _MIN_TEXT_CHARS:
        return []
    return blocks


def _meta(tree: etree._Element, *names: str) -> str | None:
    """Return the first non-empty content of meta tags with these names or properties."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").lower()
        if key in names and key not in found:
            content = _squeeze(meta.get("content"))
            if content:
                found[key] = content
    for name in names:
        if name in found:
            return found[name]
    return None


def _json_ld_objects(tree: etree._Element) -> Iterator[dict[str, object]]:
    """Yield every JSON object in the page's JSON-LD scripts, @graph members included."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        source = script.text or ""
        if len(source) > _JSON_LD_MAX_CHARS:
            continue
        try:
            data = json.loads(source)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(v for k, v in item.items() if k == "@graph" or isinstance(v, dict))


def _article_body(tree: etree._Element) -> str | None:
    """Return the JSON-LD articleBody of an article on the page, as plain paragraphs."""
    for item in _json_ld_objects(tree):
        body = item.get("articleBody")
        kind = item.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if not isinstance(body, str) or not any(
            isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds
        ):
            continue
        if _MARKUP_RE.search(body):
            body = re.sub(r"</p>|<br\s*/?>", "\n\n", body, flags=re.IGNORECASE)
            body = _TAG_RE.sub(" ", body)
        paragraphs = [_squeeze(p) for p in re.split(r"\n\s*\n|\r\n|\n", body)]
        text = "\n\n".join(p for p in paragraphs if p)
        if text:
            return text
    return None


def _title(tree: etree._Element) -> str | None:
    """Return the page's headline: og:title, else its <title>."""
    title = _meta(tree, "og:title", "twitter:title")
    if title:
        return title
    for element in tree.iter("title"):
        text = _squeeze(element.text)
        if text:
            return text
    return None


def _as_document(html: str) -> str:
    """Wrap an HTML fragment (a feed's content) so it parses as a page."""
    return html if _DOCUMENT_RE.search(html[:5000]) else f"<html><body>{html}</body></html>"


def read_page(html: str, *, url: str | None = None) -> Page | None:
    """Read an HTML page, or return None when it has no main text and no description."""
    try:
        tree = load_html(_as_document(html))
    except Exception as exc:  # malformed markup must not take the pipeline down
        logger.warning("Could not parse %s: %s", url or "a page", exc)
        return None
    if tree is None:
        return None
    # Precision first; a short page can fall below its thresholds, so retry plainly.
    blocks = _extract(tree, url=url, precise=True) or _extract(tree, url=url, precise=False)
    description = _meta(tree, "og:description", "twitter:description", "description")
    article_body = _article_body(tree)
    if not blocks and not description and not article_body:
        return None
    body = tree.find("body")
    paragraphs = dom_paragraphs(body) if body is not None else []
    return Page(
        title=_title(tree),
        description=description,
        article_body=article_body,
        blocks=tuple(blocks),
        paragraphs=tuple(paragraphs),
    )
