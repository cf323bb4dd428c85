"""Recognize and remove page clutter: promos, stamps, bylines, credits, datelines."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.summaries.fragments import ends_like_sentence
from bot.summaries.lang import word_set
from bot.summaries.sentences import (
    BLANK_LINE_RE,
    ends_sentence,
    looks_hard_wrapped,
    normalize_text,
)

# Clutter lines are short; a long paragraph that happens to start like one is
# kept rather than risk losing real content.
_MAX_CLUTTER_CHARS = 300
_MAX_STAMP_CHARS = 140
_MAX_HEADING_WORDS = 14

_LEADING_JUNK_RE = re.compile(r"^[\s.\-–—•·*|>»›:~_=#]+")

_PROMO_RE = re.compile(
    r"""^(?:
        get\ (?:the\ )?(?:latest|breaking|our|all\ the|unlimited)\b
      | sign\ up\b | subscribe\b | register\ (?:now|here|for\ free)\b
      | (?:follow|like|join|find)\ (?:us|@\w+|[\w.'’-]+(?:\ [\w.'’-]+){0,3})
            \ on\ (?:twitter|x|facebook|instagram|tiktok|threads|bluesky|linkedin|youtube
            |telegram|whatsapp|google\ news|mastodon|snapchat)\b
      | follow\ (?:us\b|@\w+|[\w.'’-]+(?:\ [\w.'’-]+){0,4}\ at\ (?:www\.|https?://))
      | download\ (?:the|our)\b
      | (?:click|tap)\ here\b | scroll\ down\b
      | listen\ (?:to\ (?:this|the)\ (?:article|story|episode|podcast)|now)\b
      | (?:watch|video|listen|gallery|photos|live|more|related|also\ read|read\ also)\s*:
      | (?:read|see|watch)\ (?:more|also|next)\b
      | more\ (?:from|on|about|stories\ from)\ [^.!?]{1,60}:
      | (?:related|recommended|trending|most\ (?:read|popular|viewed)|top\ stories
            |latest\ news|more\ stories|you\ may\ also\ like|editor'?s\ picks)
            (?:\ (?:stories|articles|coverage|content|topics|links))?\s*:?\s*$
      | share\ (?:this|on|via|the\ story)\b | share\s*:
      | (?:the\ )?story\ continues\b | continues?\ (?:below|after)\ (?:the\ )?advert
      | continue\ reading\b | skip\ (?:to|ad|advert)\b
      | advertisement(?:\s*[-–—:]\s*(?:scroll|continue|story)[^.]*)?\W*$
      | (?:sponsored|paid\ content|promoted)\W*$ | sponsored\ by\ [^.!?]{1,40}$
      | ©|copyright\s*(?:©|\(c\)|\d{4}) | all\ rights\ reserved
      | (?:additional\ )?reporting\ by\b | (?:editing|writing|compiled)\ by\b
      | this\ (?:article|story)\ (?:was|has\ been)\ (?:originally\ )?(?:published|updated)\b
      | the\ post\ .{1,200}?\ appeared\ first\ on\b
      | editor'?s\ note\s*: | (?:the\ )?(?:views|opinions)\ expressed\ (?:in|here|are)\b
      | (?:enter|your)\ email\b | by\ (?:subscribing|signing\ up)\b
      | have\ a\ (?:news\ )?tip\b | send\ us\ (?:a\ )?(?:tip|your)\b
      | (?:don'?t|never)\ miss\ (?:a|an|the|out|our)\b | want\ (?:more|the\ latest)\W*$
      | for\ the\ latest\ (?:news|updates|headlines|coverage|stories)\b
      | (?:anzeige|werbung|publicidad|publicité|pubblicità|реклама|إعلان|广告)\W*$
      | (?:lesen\ sie\ (?:auch|mehr)|mehr\ zum\ thema|zum\ thema|auch\ interessant)\b
      | (?:lee|leer|lea)\ (?:también|más)\b | te\ puede\ interesar\b | suscríbete\b
      | lire\ aussi\b | à\ lire\ aussi\b | leggi\ anche\b
      | читайте\ (?:также|еще|ещё)\b | подписывайтесь\b | подпишитесь\b
      | اقرأ\ أيضا | تابعونا | 相关(?:阅读|新闻|报道) | 延伸阅读 | 点击(?:查看|阅读)
    )""",
    re.IGNORECASE | re.VERBOSE,
)

_NEWSLETTER_RE = re.compile(r"newsletter|boletín|рассылк|通讯", re.IGNORECASE)
_CALL_TO_ACTION_RE = re.compile(
    r"sign\ up|subscribe|inbox|straight\ to\ your|register|free\ newsletter|abonnieren|anmelden"
    r"|suscr[ií]b|inscr[ií]b|подпис",
    re.IGNORECASE,
)

_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAYS = (
    r"mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?"
)
_STAMP_RE = re.compile(
    r"^(?:last\ |first\ )?(?:updated|published|posted|modified)(?:\ on|\ at)?"
    r"(?:\s*:|\s+(?=\d|(?:"
    + _MONTHS
    + "|"
    + _WEEKDAYS
    + r"|today|yesterday)\b|(?:\w+\ ){1,2}ago\b))"
    r"|^(?:zuletzt\ )?(?:aktualisiert|veröffentlicht|stand)\s*:?\s*(?=\d)"
    r"|^(?:actualizado|publicado|última\ actualización)\s*:?\s*(?=\d)"
    r"|^(?:обновлено|опубликовано)\s*:?\s*(?=\d)"
    r"|^(?:发布时间|更新时间|更新于|发布于)"
    r"|^(?:تاريخ\ النشر|آخر\ تحديث|نشر\ في|تم\ التحديث)",
    re.IGNORECASE | re.VERBOSE,
)
# Everything a bare date or time line may contain; anything else makes it text.
_DATE_TOKEN_RE = re.compile(
    r"\b(?:" + _MONTHS + "|" + _WEEKDAYS + r")\b\.?|\b\d+(?:st|nd|rd|th)?\b"
    r"|\b[ap]\.?m\.?(?=\W|$)|\b(?:utc|gmt|bst|cet|cest|est|edt|pst|pdt|cst|cdt|mst|mdt|et|pt)\b"
    r"|\b(?:at|on|updated|published)\b|[\s.,:/|()\-–—]+",
    re.IGNORECASE,
)

_DIGIT_RE = re.compile(r"\d")

_BYLINE_START_RE = re.compile(
    r"^(?:by|written\ by|words\ by|story\ by|von|por|par|di|door|автор|текст)"
    r"\s*[:.]?\s+(?P<rest>.+)$",
    re.IGNORECASE | re.VERBOSE,
)
_NAME_CONNECTORS = word_set(
    "and und y e et of the for in at de del da van von der den la le du el al bin ibn "
    "staff senior chief special correspondent correspondents reporter reporters writer "
    "writers editor editors contributor producer producers analyst columnist"
)
_AGENCY_LINE_RE = re.compile(
    r"^[A-Z][\w.'’-]+(?:\ [A-Z][\w.'’-]+){1,3}(?:,|\ \||\ -)\ "
    r"(?:CNN|Reuters|AP|AFP|BBC\ News|Associated\ Press|Bloomberg)\W*$",
    re.VERBOSE,
)

_CREDIT_NAMES = (
    r"getty\ images|afp|ap|ap\ photo|reuters|epa|epa-efe|shutterstock|alamy|dpa"
    r"|picture\ alliance|bloomberg|anadolu|xinhua|tass|sipa|pa\ images|pa|efe"
)
_PHOTO_LINE_RE = re.compile(
    r"^(?:photo|photograph|picture|image|foto|bild|video|credit|fotografía|фото|صورة)s?"
    r"(?:\ (?:by|credit|courtesy|source|copyright|caption|illustration))?\s*[:/©|：]"
    r"|^(?:图片|图|摄影|视频)(?:来源)?\s*[:：]"
    r"|^(?:image|photo|picture)\ (?:copyright|caption|source|credit|courtesy)\b"
    r"|^courtesy\ (?:of\ )?[A-Z]"
    r"|^\(?(?:[^()]{0,50}/)?(?:" + _CREDIT_NAMES + r")(?:\ via\ [^()]{1,30})?\)?\.?$",
    re.IGNORECASE | re.VERBOSE,
)
# "(Getty Images)", "(AP Photo/Jane Doe)", "(Photo: Jane Doe/Reuters)", "(Jane Doe/AFP)"
_INLINE_CREDIT_RE = re.compile(
    r"\s*\((?:(?:photo|image|picture|foto)s?\b[^()]{0,80}"
    r"|[^()]{0,60}?\b(?:" + _CREDIT_NAMES + r")\b(?:\s*photo)?(?:\s*/[^()]{1,60})?"
    r"(?:\ via\ [^()]{1,30})?)\)",
    re.IGNORECASE | re.VERBOSE,
)
_TRAILING_CREDIT_RE = re.compile(
    r"(?:\([^()]{0,80}?\b(?:" + _CREDIT_NAMES + r"|photo|image)\b[^()]{0,30}\)"
    r"|[/|]\s*(?:" + _CREDIT_NAMES + r"))\.?$",
    re.IGNORECASE | re.VERBOSE,
)

_TERMINAL_ANYWHERE_RE = re.compile(r"[.!?…。！？؟](?:[\"'”’»)\]]*)(?:\s|$)")

_CRUMB_SPLIT_RE = re.compile(r"\s*[›»>|/•·]\s*")

# Hashtags and handles after the last sentence: "… all week. #SpringMenu @harborcafe"
_TRAILING_TAGS_RE = re.compile(r"(?:\s+[#@]\w+)+\s*$")
_TAG_TAIL_CHARS = 300


def _split_names(names: str) -> list[str]:
    """Split a "|"-separated list of names."""
    return names.split("|")


# Datelines: "(CNN)", "Tokyo (CNN)", "LONDON (Reuters) -", "COLOGNE, Germany --",
# "MADRID, 3 mar (EFE).-", "МОСКВА, 5 марта. /ТАСС/."
_AGENCIES = frozenset(
    name.casefold()
    for name in _split_names(
        "CNN|CNN Business|CNN Money|CNN Travel|Reuters|AP|Associated Press|"
        "The Associated Press|AFP|dpa|EFE|ANSA|UPI|Bloomberg|Xinhua|TASS|ТАСС|Interfax|"
        "Интерфакс|RIA Novosti|РИА Новости|KNA|epd|PTI|IANS|Kyodo|Yonhap|Europa Press|"
        "Anadolu|AA|WAFA|SPA|KUNA|MENA|BBC|NBC News|CBS News|ABC News|Fox News|CNBC|"
        "Al Jazeera|APA|SDA|Belga|ANP|PAP|CTK|MTI|Lusa|Notimex|新华社|رويترز|الأناضول|中新社|واس|"
        "قنا|وكالات|أ ف ب"
    )
)
_DATELINE_PAREN_RE = re.compile(
    r"^(?P<place>[^()\n]{0,70}?)\s*\((?P<source>[^()\n]{1,40})\)\s*"
    r"(?P<sep>\.?\s*(?:--|—|–|-|:)\s*)?"
)
_DATELINE_SLASH_RE = re.compile(r"^(?P<place>[^/\n]{1,70}?)\s*/(?P<source>[^/\n]{1,30})/\.?\s*")
_DATELINE_DASH_RE = re.compile(
    r"^(?P<place>[^\n]{1,70}?)\s+(?P<sep>--|—|–|-)\s+(?:(?P<source>[^.\n]{1,30})\.\s+)?"
)
# "新华社北京3月5日电（记者 王明）": agency, place and date, then "电" (wire).
_DATELINE_ZH_RE = re.compile(
    r"^(?:新华社|中新社|人民网|央视网|本报)[^，。\s]{0,24}?电(?:[（(][^）)]{0,30}[）)])?\s*"
)
_DATE_WORDS = word_set(
    "de del of am im le el al jan feb mar apr may jun jul aug sep sept oct nov dec "
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre "
    "januar februar märz mai juni juli oktober dezember "
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря "
    "янв фев мар апр июн июл авг сен окт ноя дек"
)

# Daily-Mail-like heads flattened into the text: "By . Jane Doe . PUBLISHED: . 10:02
# EST, 3 March 2014 . | . UPDATED: . 11:15 EST, 3 March 2014 . "
_FLAT_HEAD_RE = re.compile(
    r"^(?:by\s*\.\s*[^.|]{1,60}?\s*\.\s*(?:and\s*\.?\s*[^.|]{1,60}?\s*\.\s*)*"
    r"|(?:(?:published|updated)\s*:|last\ updated\ at)\s*\.?\s*[^|]{0,60}?\d{4}\s*\.\s*"
    r"|\|\s*\.?\s*)",
    re.IGNORECASE | re.VERBOSE,
)


def _core(text: str) -> str:
    """Strip leading bullets and separators that decorate clutter lines."""
    return _LEADING_JUNK_RE.sub("", text).strip()


def is_promo(text: str) -> bool:
    """Tell whether text is a promo, share prompt, newsletter blurb or advertisement."""
    core = _core(text)
    if not core or len(core) > _MAX_CLUTTER_CHARS:
        return False
    if _PROMO_RE.match(core):
        return True
    return bool(_NEWSLETTER_RE.search(core) and _CALL_TO_ACTION_RE.search(core))


def is_stamp(text: str) -> bool:
    """Tell whether text is a publication stamp or a bare date."""
    core = _core(text)
    if not core or len(core) > _MAX_STAMP_CHARS:
        return False
    if _STAMP_RE.match(core):
        return True
    return _DIGIT_RE.search(core) is not None and not _DATE_TOKEN_RE.sub("", core)


def is_byline(text: str) -> bool:
    """Tell whether text is an author line such as "By Jane Doe and John Roe, CNN"."""
    core = _core(text)
    if not core or len(core) > _MAX_STAMP_CHARS:
        return False
    if _AGENCY_LINE_RE.match(core):
        return True
    match = _BYLINE_START_RE.match(core)
    if match is None:
        return False
    words = re.findall(r"[^\W\d_][\w.'’-]*", match.group("rest"))
    return bool(words) and all(w[0].isupper() or w.lower() in _NAME_CONNECTORS for w in words)


def is_photo_credit(text: str) -> bool:
    """Tell whether text is a photo credit or a caption ending in one."""
    core = _core(text)
    if not core or len(core) > _MAX_CLUTTER_CHARS:
        return False
    return bool(_PHOTO_LINE_RE.match(core) or _TRAILING_CREDIT_RE.search(core))


def is_breadcrumb(text: str) -> bool:
    """Tell whether text is a navigation trail such as "Home > World > Europe"."""
    core = text.strip()
    if len(core) > 150 or ends_sentence(core):
        return False
    parts = [p for p in _CRUMB_SPLIT_RE.split(core) if p]
    return len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts)


def strip_trailing_tags(text: str) -> str:
    """Drop hashtags and handles trailing a finished sentence; they are not part of it."""
    tail = text[-_TAG_TAIL_CHARS:]
    if "#" not in tail and "@" not in tail:
        return text
    match = _TRAILING_TAGS_RE.search(text, max(len(text) - _TAG_TAIL_CHARS, 0))
    if match is None:
        return text
    head = text[: match.start()]
    return head if ends_like_sentence(head) else text


def is_clutter(text: str) -> bool:
    """Tell whether a line or sentence is page clutter rather than story."""
    return (
        is_promo(text)
        or is_stamp(text)
        or is_byline(text)
        or is_photo_credit(text)
        or is_breadcrumb(text)
    )


def remove_inline_credits(text: str) -> str:
    """Drop photo credits embedded in a sentence, such as "(Getty Images)"."""
    return _INLINE_CREDIT_RE.sub("", text).strip()


def _is_place(place: str) -> bool:
    """Tell whether text reads as a dateline place, maybe with a date: "New Delhi, India"."""
    words = re.findall(r"[^\s,/]+", place)
    if not words or len(words) > 7:
        return False
    for word in words:
        bare = word.strip(".'’()")
        if not bare:
            continue
        # Arabic and other caseless scripts have no capitals to look for.
        if not bare[0].islower() or bare.lower() in _DATE_WORDS:
            continue
        return False
    return True


def _is_source(source: str) -> bool:
    """Tell whether text in parentheses reads as a news source: "CNN", "The Hollywood Reporter"."""
    words = source.split()
    if not words or len(words) > 5:
        return False
    return all(not w[0].islower() or w.lower() in ("of", "the", "de") for w in words)


def _shouts(place: str) -> bool:
    """Tell whether the first part of a place is written in capitals, as datelines are."""
    head = re.split(r"[,(]", place, maxsplit=1)[0]
    letters = [c for c in head if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def strip_dateline(text: str) -> str:
    """Remove a dateline glued to the start of a paragraph and keep the sentence."""
    match = _DATELINE_ZH_RE.match(text)
    if match:
        return text[match.end() :].lstrip()
    match = _DATELINE_PAREN_RE.match(text)
    if match:
        place, source = match.group("place").strip(), match.group("source").strip()
        known = source.casefold() in _AGENCIES
        if (not place and _is_source(source)) or (
            _is_place(place) and (known or (match.group("sep") and _is_source(source)))
        ):
            return text[match.end() :].lstrip()
    match = _DATELINE_SLASH_RE.match(text)
    if match and _shouts(match.group("place")) and _is_place(match.group("place")):
        return text[match.end() :].lstrip()
    match = _DATELINE_DASH_RE.match(text)
    if match:
        place = match.group("place")
        source = match.group("source")
        if source is not None and source.strip().casefold() not in _AGENCIES:
            # Only a known agency may follow the dash; otherwise keep the sentence after it.
            end = match.start("source")
        else:
            end = match.end()
        mixed_case_place = "," in place and match.group("sep") != "-"
        # A lone capitalized short word is more often an acronym ("NATO --") than a city.
        lone_acronym = "," not in place and len(place.strip()) < 5
        if _is_place(place) and not lone_acronym and (_shouts(place) or mixed_case_place):
            return text[end:].lstrip()
    return text


def strip_flat_head(text: str) -> str:
    """Remove byline and stamp fragments flattened into the start of a text."""
    while True:
        match = _FLAT_HEAD_RE.match(text)
        if match is None or match.end() == 0:
            return text
        text = text[match.end() :]


def clean_paragraphs(text: str) -> Iterator[str]:
    """Yield the story's paragraphs with clutter, headings and datelines removed, lazily."""
    text = normalize_text(text)
    # Headings are told from prose by their missing full stop, which only
    # works when the text has full stops at all.
    has_prose = _TERMINAL_ANYWHERE_RE.search(text) is not None
    for paragraph in _paragraphs_without_clutter_lines(text):
        paragraph = strip_trailing_tags(strip_dateline(strip_flat_head(paragraph)))
        if not paragraph or is_clutter(paragraph) or (has_prose and _is_heading(paragraph)):
            continue
        yield paragraph


def _paragraphs_without_clutter_lines(text: str) -> Iterator[str]:
    """Yield paragraphs of normalized text, leaving out lines that are clutter."""
    if BLANK_LINE_RE.search(text):
        for block in BLANK_LINE_RE.split(text):
            yield from _runs_between_clutter(block.split("\n"))
        return
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if looks_hard_wrapped(lines):
        yield from _runs_between_clutter(lines)
        return
    yield from (line for line in lines if not is_clutter(line))


def _runs_between_clutter(lines: list[str]) -> Iterator[str]:
    """Join lines into paragraphs, a clutter line ending the paragraph before it."""
    run: list[str] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if is_clutter(line):
            if run:
                yield " ".join(run)
            run = []
            continue
        run.append(line)
    if run:
        yield " ".join(run)


def _is_heading(paragraph: str) -> bool:
    """Tell whether a paragraph is a heading, kicker or label rather than prose."""
    return not ends_sentence(paragraph) and len(paragraph.split()) <= _MAX_HEADING_WORDS
