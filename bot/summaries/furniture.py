"""Page furniture: the blocks around a story that are not the story.

Each kind is recognized by what such blocks say on any site (the wording of rights notices,
consent and paywall prompts, sponsorship disclosures, link lists, captions and credits) or
by their shape (a list of short pieces that are mostly numbers is a box score or a price
list; labels with values and no sentence are a fact box), never by one site's markup.
"""

from __future__ import annotations

import re

from bot.summaries.clutter import is_clutter, is_photo_credit
from bot.summaries.fragments import ends_like_sentence

# Furniture is short; a long block that happens to contain one of these phrases is more
# likely a story about, say, cookies or copyright, and is kept.
_MAX_FURNITURE_CHARS = 600

_RIGHTS_RE = re.compile(
    r"""
      \bfor\ (?:your\ )?personal,?\ non-?commercial\ use\b
    | \b(?:order|purchase|buy)\ (?:presentation-ready\ )?(?:copies|reprints?)\b
    | \ball\ rights\ reserved\b | \brights\ reserved\b
    | \bmay\ not\ be\ (?:re)?(?:published|produced|broadcast|rewritten|redistributed|copied)
    | \b(?:reprints?|republishing|syndication|licensing)\ (?:and|&)\ permissions\b
    | \bdistribution\ and\ use\ of\ this\ material\b
    | \bwithout\ (?:the\ )?(?:prior\ )?(?:express\ )?written\ (?:permission|consent)\b
    | ^(?:©|\(c\)\s|copyright\b)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CONSENT_RE = re.compile(
    r"""
      \b(?:we|this\ (?:web)?site|our\ (?:web)?site|our\ partners)\ uses?\ cookies\b
    | \bcookie\ (?:policy|settings|preferences|consent|notice)\b
    | \b(?:accept|agree\ to|consent\ to)\ (?:the\ use\ of\ |all\ )?cookies\b
    | \bby\ (?:continuing\ to\ (?:use|browse)|using)\ (?:this|our)\ (?:web)?site\b
    | \b(?:privacy\ (?:policy|notice|settings)|terms\ of\ (?:use|service))\b
        .{0,80}\b(?:agree|accept|consent|updated)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_PAYWALL_RE = re.compile(
    r"""
      \balready\ (?:a\ )?(?:subscriber|member|registered|have\ an\ account)\b
    | \b(?:log|sign)\ in\ (?:to\ (?:continue|read|keep|access|comment)
        |or\ (?:register|subscribe|sign\ up))\b
    | \bcreate\ (?:a\ |your\ )?(?:free\ )?account\b
    | \byou(?:'ve|’ve|\ have)\ (?:reached|read|used)\ (?:your|the|all)\b
        .{0,40}\b(?:limit|articles?|stories)\b
    | \b\d+\ free\ (?:articles?|stories)\b
    | \bfree\ articles?\ (?:left|remaining)\b
    | \bunlimited\ (?:digital\ )?access\b
    | \b(?:available|reserved|exclusive)\ (?:only\ )?(?:to|for)\ (?:paying\ )?
        (?:subscribers|members)\b
    | \bsubscribe\ (?:now|today|to\ (?:continue|read|keep))\b
    | \b(?:disable|turn\ off|whitelist)\ (?:your\ )?ad\ ?-?blocker\b
    | \bsupport\ (?:our|independent|quality)\ journalism\b
    | \bbecome\ a\ (?:member|subscriber|patron|supporter)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_DISCLOSURE_RE = re.compile(
    r"""
      \b(?:is|was|has\ been|have\ been)\ (?:sponsored|compensated|paid\ for)\ by\b
    | \bbrought\ to\ you\ by\b
    | \ball\ opinions\ (?:are|expressed\ (?:here\ )?are)\ (?:mine|my\ own|our\ own)\b
    | \b(?:contains?|may\ contain|uses)\ affiliate\ links?\b
    | \bwe\ (?:may\ )?(?:earn|receive|get)\ (?:a\ )?(?:small\ )?(?:commission|compensation)\b
    | \bas\ an\ amazon\ associate\b
    | (?:^|\s)\#(?:ad|sponsored|spon)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_RELATED_RE = re.compile(
    r"""^(?:
      (?:related|recommended|popular|trending|latest|more)
        (?:\ (?:stories|articles|news|coverage|content|reading|videos|links|on\ this))?
        \s*[:|»>]
    | (?:read|see|watch)\ (?:more|also|next|this)\b\s*[:|»>]?
    | (?:you\ (?:may|might)\ (?:also\ )?(?:like|enjoy)|don'?t\ miss|also\ on\ )
    | more\ from\ [^.!?]{1,60}$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_CREDIT_SOURCES = r"ap|afp|reuters|getty\ images|epa|shutterstock|alamy|dpa|xinhua|anadolu"
_CAPTION_RE = re.compile(
    r"""
      ^file\ (?:photo\ )?[-–—:]
    | ^in\ this\ (?:[\w,]+\ ){0,6}(?:photo|image|picture|file\ photo|video|handout)\b
    | ^(?:photo|image|picture|video|illustration|graphic)s?
        (?:\ (?:by|credit|courtesy|source|copyright|caption))?\s*[:|/©]
    | ^(?:image|photo)\ (?:copyright|caption)\b
    | \b(?:photo|image|picture)s?\ (?:by|credit|courtesy(?:\ of)?)\s*:?\s*[^.!?]{2,60}$
    | \((?:[^()]{0,60}/)?(?:"""
    + _CREDIT_SOURCES
    + r""")\ ?(?:photo|images)?[^()]{0,40}\)\s*$
    | [|/]\s*(?:"""
    + _CREDIT_SOURCES
    + r"""|ap\ photo)\s*$
    """,
    re.IGNORECASE | re.VERBOSE,
)
# "Tested by: … Price: … More info: …": labels and values, a fact box rather than prose.
_LABEL_RE = re.compile(r"(?:^|\s)[A-Z][\w-]*(?:\s[\w-]+){0,2}:\s")
_MIN_LABELS = 2
# Pieces of a box score or price list: "Tolivert 25 points", "$19.99 at Amazon", "3-1".
_PIECE_SPLIT_RE = re.compile(r"(?<=[.;|•·])\s+|\s*[|•·;]\s*|\n")
_NUMBER_RE = re.compile(r"\d")
_WORD_RE = re.compile(r"\S+")
_MIN_STAT_PIECES = 3
_MAX_STAT_PIECE_WORDS = 6
_STAT_SHARE = 0.6


def is_stat_list(text: str) -> bool:
    """Tell whether text is a table flattened into lines: short pieces that are mostly numbers."""
    pieces = [p for p in _PIECE_SPLIT_RE.split(text) if p.strip()]
    if len(pieces) < _MIN_STAT_PIECES:
        return False
    numeric = sum(
        1
        for p in pieces
        if _NUMBER_RE.search(p) and len(_WORD_RE.findall(p)) <= _MAX_STAT_PIECE_WORDS
    )
    return numeric >= _STAT_SHARE * len(pieces)


def furniture_kind(text: str) -> str | None:
    """Name the kind of page furniture a block of text is, or return None for story text."""
    text = text.strip()
    if not text:
        return None
    if is_stat_list(text):
        return "stats"
    if len(text) > _MAX_FURNITURE_CHARS:
        return None
    for kind, pattern in (
        ("rights", _RIGHTS_RE),
        ("consent", _CONSENT_RE),
        ("paywall", _PAYWALL_RE),
        ("disclosure", _DISCLOSURE_RE),
        ("related", _RELATED_RE),
        ("caption", _CAPTION_RE),
    ):
        if pattern.search(text):
            return kind
    if len(_LABEL_RE.findall(text)) >= _MIN_LABELS and not ends_like_sentence(text):
        return "facts"
    if is_photo_credit(text):
        return "caption"
    if is_clutter(text):
        return "promo"
    return None
