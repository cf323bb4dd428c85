"""Find where the story starts on a page, and keep its paragraphs apart from the furniture.

The lede is the first prose paragraph of the article (whole sentences, not furniture, not
a heading, a list item or an all-italic note). Structure decides which that is:
- blocks before the page's own headline (a sidebar, a teaser for another story) are not it;
- a first paragraph the page left open (no full stop, or a colon before a timeline or a
  list) is the lede, closed with "…", when it reads as prose and sits in the article's body
  with the paragraph after it, not right below a picture (where a caption goes);
- an extractor can lose a lede written as loose text in the article's container (not in a
  `<p>`); it is found again in the page's visible text, just before the first extracted
  paragraph and in the same container;
- a first paragraph that leans on one before it ("In addition to the deaths, …") lacks its
  lede; when the page shows its own description as a paragraph above it (a summary box),
  that paragraph is the lede;
- a lede with inline furniture inside (a link's pop-up card) is replaced by the page's
  description when the description is the same paragraph without it;
- with no prose extracted, the JSON-LD articleBody, else the visible prose paragraphs after
  the headline, else a complete description is the story.
Hashtags and handles after a block's last sentence are dropped first. A description that
merely matches some paragraph is no evidence: it is as often the standfirst. Every
paragraph stays a paragraph of its own: nothing from two blocks is joined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.summaries.clutter import strip_trailing_tags
from bot.summaries.dom import DomParagraph
from bot.summaries.fragments import ends_like_sentence
from bot.summaries.furniture import furniture_kind, is_stat_list
from bot.summaries.lede import leans_on_previous, repeats_headline, tokens
from bot.summaries.page import Block, Page
from bot.summaries.prose import close_open_prose, is_prose, long_enough

# Words a paragraph must share with the description's opening to be the paragraph it shows.
_ANCHOR_WORDS = 6
# Characters of a block's head used to find it in the page's visible text.
_FIND_CHARS = 60
# A lede with an insert must agree with the description this much before and after it.
_MIN_SHARED_CHARS = 20
# Short blocks in a row that are mostly numbers are a flattened table.
_STAT_RUN = 3
_STAT_LINE_WORDS = 6
_DIGIT_RE = re.compile(r"\d")
_TRUNCATED_RE = re.compile(r"(?:\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")
_SPACES_RE = re.compile(r"\s+")


def _opening(text: str) -> list[str]:
    """Return the first words of text, for telling whether two texts open alike."""
    return tokens(_TRUNCATED_RE.sub("", text))[:_ANCHOR_WORDS]


def _opens_like(text: str, anchor: str) -> bool:
    """Tell whether text opens with the same words as an anchor (a description)."""
    head = _opening(anchor)
    return len(head) >= min(_ANCHOR_WORDS, 4) and tokens(text)[: len(head)] == head


def _anchors(page: Page) -> list[str]:
    """Return what the page says its story opens with: articleBody's lede, its description."""
    anchors: list[str] = []
    if page.article_body:
        for paragraph in page.article_body.split("\n\n"):
            if long_enough(paragraph):
                anchors.append(paragraph)
                break
    if page.description and long_enough(page.description):
        anchors.append(page.description)
    return anchors


def _complete(text: str) -> bool:
    """Tell whether a description is whole: ends a sentence and was not cut with "…"."""
    return not _TRUNCATED_RE.search(text) and ends_like_sentence(text) and is_prose(text)


def _clean_lede(block: str, anchors: Sequence[str]) -> str:
    """Return the lede block, or the page's clean copy of it when the block has an insert.

    A paragraph that reads as the description, then something else (a link's pop-up card),
    then the rest of the description, is the description with furniture inside it.
    """
    for anchor in anchors:
        if not _complete(anchor) or anchor in block:
            continue
        shared = 0
        while shared < min(len(anchor), len(block)) and anchor[shared] == block[shared]:
            shared += 1
        rest = anchor[shared:]
        if shared < _MIN_SHARED_CHARS or len(rest) < _MIN_SHARED_CHARS:
            continue
        end = block.find(rest, shared)
        if end > shared:
            return anchor + block[end + len(rest) :]
    return block


def _after_headline(blocks: list[Block], title: str | None) -> list[Block]:
    """Drop the blocks before the page's headline, if the headline is among the blocks."""
    if not title:
        return blocks
    for index, block in enumerate(blocks):
        if block.kind == "head" and (repeats_headline(block.text, title) or block.text == title):
            rest = blocks[index + 1 :]
            return rest if any(b.kind == "p" and is_prose(b.text) for b in rest) else blocks
    return blocks


def _without_stat_runs(blocks: list[Block]) -> list[Block]:
    """Drop runs of short numeric lines (a box score or price list split into paragraphs)."""
    numeric = [
        len(b.text.split()) <= _STAT_LINE_WORDS and _DIGIT_RE.search(b.text) is not None
        for b in blocks
    ]
    keep = [True] * len(blocks)
    start = 0
    while start < len(blocks):
        end = start
        while end < len(blocks) and numeric[end]:
            end += 1
        if end - start >= _STAT_RUN:
            for index in range(start, end):
                keep[index] = False
        start = end + 1
    return [b for b, k in zip(blocks, keep, strict=True) if k]


def _story_blocks(blocks: Sequence[Block]) -> list[str]:
    """Return the prose-kind blocks' texts, leaving out furniture."""
    return [
        b.text for b in blocks if b.kind == "p" and not b.emphasized and not furniture_kind(b.text)
    ]


def _squeeze(text: str) -> str:
    """Collapse whitespace."""
    return _SPACES_RE.sub(" ", text).strip()


def _find(paragraphs: Sequence[DomParagraph], text: str) -> int:
    """Return the index of the visible paragraph holding text's head, or -1."""
    head = _squeeze(text)[:_FIND_CHARS]
    for index, paragraph in enumerate(paragraphs):
        if head in paragraph.text:
            return index
    return -1


def _after_h1(paragraphs: Sequence[DomParagraph], position: int) -> int:
    """Return where the text after the last h1 before position starts (0 without an h1)."""
    start = 0
    for index in range(max(position, 0)):
        if paragraphs[index].heading:
            start = index + 1
    return start


def _lost_lede(page: Page, first: str) -> list[str] | None:
    """Find a lede the extractor lost before its first paragraph; return the story from it.

    Only loose text after the page's h1 and before the first extracted paragraph, in that
    paragraph's own container, is looked at; the story then goes on with that container's
    paragraphs. (A <p> the extractor left out was left out on purpose: a standfirst, a
    caption.)
    """
    paragraphs = page.paragraphs
    position = _find(paragraphs, first)
    if position <= 0:
        return None
    start = _after_h1(paragraphs, position)
    container = paragraphs[position].container
    for index in range(start, position):
        paragraph = paragraphs[index]
        if paragraph.heading or not is_prose(paragraph.text) or first in paragraph.text:
            continue
        if paragraph.loose and paragraph.container == container:
            return [
                p.text
                for p in paragraphs[index:]
                if p.container == container and not furniture_kind(p.text)
            ]
    return None


def _described_lede(page: Page, first: str, anchors: Sequence[str]) -> list[str] | None:
    """Find the lede set apart in a summary box, when the first paragraph leans on it.

    A first extracted paragraph that opens like a continuation ("In addition to the three
    deaths, …") lacks the paragraph before it. If the page shows its description as a
    paragraph between the headline and that one, that paragraph is the lede.
    """
    if not leans_on_previous(first):
        return None
    paragraphs = page.paragraphs
    position = _find(paragraphs, first)
    if position <= 0:
        return None
    start = _after_h1(paragraphs, position)
    for paragraph in paragraphs[start:position]:
        if any(_complete(a) and _opens_like(paragraph.text, a) for a in anchors) and is_prose(
            paragraph.text
        ):
            return [paragraph.text]
    return None


def _without_extraction(page: Page) -> list[str]:
    """Return the story when the extractor found no prose paragraph.

    That is the page's JSON-LD articleBody, else its visible prose paragraphs after the
    headline, else its description if complete.
    """
    if page.article_body:
        return [p for p in page.article_body.split("\n\n") if not is_stat_list(p)]
    paragraphs = list(page.paragraphs)
    headings = [i for i, p in enumerate(paragraphs) if p.heading]
    headline = next(
        (i for i in headings if repeats_headline(paragraphs[i].text, page.title)),
        headings[0] if headings else -1,
    )
    paragraphs = paragraphs[headline + 1 :]
    # Without the extractor's judgement, only paragraphs that read as prose count: table
    # cells and link lists are visible text too.
    story = [p.text for p in paragraphs if is_prose(p.text)]
    if story:
        return story
    if page.description and _complete(page.description):
        return [page.description]
    return []


def _same_body(first: DomParagraph, then: DomParagraph) -> bool:
    """Tell whether a paragraph and the one after it belong to one body of text.

    They do when they share a container, when the next one sits deeper inside the first
    one's container (entries of a timeline, each in a box of its own), or when both are
    loose lines, each in a wrapper of its own, side by side. A caption box or a standfirst
    beside the body is none of these. A picture right above the paragraph, in its own
    container or (for a line in a wrapper) in the container around the wrapper, makes it
    a caption.
    """
    if first.heading or first.below_picture:
        return False
    if first.container == then.container or first.container in then.within:
        return True
    parent = first.within[:-1]
    return (
        first.loose
        and then.loose
        and bool(parent)
        and parent == then.within[:-1]
        and parent[-1] not in first.pictures
    )


def _in_body(page: Page, text: str, following: Sequence[Block]) -> bool:
    """Tell whether a block sits in the article's body on the page, with the block after it.

    Both must be found in the page's visible text, in that order (see _same_body).
    """
    paragraphs = page.paragraphs
    position = _find(paragraphs, text)
    after = next((b.text for b in following if b.kind == "p"), None)
    if position < 0 or after is None:
        return False
    found = _find(paragraphs[position + 1 :], after)
    return found >= 0 and _same_body(paragraphs[position], paragraphs[position + 1 + found])


def _open_lede(page: Page, blocks: Sequence[Block], lede: int) -> tuple[int, str] | None:
    """Find a first paragraph the page left open, before the first whole-sentence one.

    It is the first block of the main text long enough to be a lede (headings, notes and
    furniture before it are passed over), it reads as prose ending without a full stop or
    with a colon (prose.py), and it sits in the article's body. Returns its index and its
    text closed with "…".
    """
    for index, block in enumerate(blocks[:lede]):
        if block.kind == "head" or block.emphasized or furniture_kind(block.text):
            continue
        if not long_enough(block.text):
            continue
        closed = close_open_prose(block.text) if block.kind == "p" else None
        if closed is None or not _in_body(page, block.text, blocks[index + 1 :]):
            return None
        return index, closed
    return None


def _without_tags(blocks: Sequence[Block]) -> list[Block]:
    """Return the blocks with hashtags and handles after their last sentence dropped."""
    return [Block(b.kind, strip_trailing_tags(b.text), b.emphasized) for b in blocks]


def story_paragraphs(page: Page) -> list[str]:
    """Return the story's paragraphs from its lede on, without page furniture."""
    anchors = _anchors(page)
    blocks = _without_stat_runs(_after_headline(_without_tags(page.blocks), page.title))
    lede = next(
        (
            i
            for i, b in enumerate(blocks)
            if b.kind == "p" and not b.emphasized and is_prose(b.text)
        ),
        None,
    )
    if lede is None:
        return _without_extraction(page) or _story_blocks(blocks)
    opened = _open_lede(page, blocks, lede)
    if opened is not None:
        index, closed = opened
        return [closed, *_story_blocks(blocks[index + 1 :])]
    found = _lost_lede(page, blocks[lede].text) or _described_lede(page, blocks[lede].text, anchors)
    if found:
        return found + ([] if len(found) > 1 else _story_blocks(blocks[lede:]))
    first = _clean_lede(blocks[lede].text, anchors)
    return [first, *_story_blocks(blocks[lede + 1 :])]
