"""The catalog of named topics: the built-in one and the TOPICS_FILE that replaces it.

A catalog topic is a name (one word, shown on a button) and a query. Feed categories
given for a topic become quoted alternatives of its query: a story matches when a
category of its feed holds them, or its headline or summary does.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.i18n import ENGLISH, N_, Translator
from bot.topics.query import Query, QueryError, parse_query

MAX_NAME_LENGTH = 32
# Telegram shows at most 100 buttons on a message (Bot API, InlineKeyboardMarkup); half of
# that keeps the catalog readable on a phone.
MAX_CATALOG_TOPICS = 50

# One word that starts with a letter, so `/latest 3` and a query never read as a name.
_NAME_RE = re.compile(r"[^\W\d_][\w-]*")
_QUOTES = '"“”„‟«»'
_TOPIC_KEYS = frozenset({"name", "query", "categories"})
_FILE_KEYS = frozenset({"topics", "include_defaults"})
_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}

FILE_SHAPE = (
    "expected `topics:` as a list of entries with `name` and `query` (e.g. name: Sports, query: "
    '"sport OR football") and optional `categories`, plus optional `include_defaults: true`'
)


class CatalogError(ValueError):
    """A catalog topic or file that can't be used; ``str(error)`` says why."""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A named topic of the catalog."""

    name: str
    query: Query

    @property
    def key(self) -> str:
        """Return the name as looked up: case-folded."""
        return name_key(self.name)


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """What a TOPICS_FILE holds."""

    entries: tuple[CatalogEntry, ...]
    include_defaults: bool


@dataclass(frozen=True, slots=True)
class CatalogPlan:
    """The catalog to apply at start: `replace` drops stored topics not in `entries`."""

    entries: tuple[CatalogEntry, ...]
    replace: bool


def name_key(name: str) -> str:
    """Return the form names are compared in (case-insensitive)."""
    return name.strip().casefold()


def check_name(name: str) -> str:
    """Return the name stripped, or raise CatalogError saying what a name looks like."""
    name = name.strip()
    if not name:
        raise CatalogError("The topic has no name: give it one word, e.g. Sports.")
    if len(name) > MAX_NAME_LENGTH:
        raise CatalogError(
            f"The name is {len(name)} characters long: keep it to {MAX_NAME_LENGTH} or fewer."
        )
    if not _NAME_RE.fullmatch(name):
        raise CatalogError(
            "A topic name is one word of letters, digits, - or _ that starts with a letter, "
            "e.g. Sports or Sci-Tech."
        )
    return name


def _category_term(category: str) -> str:
    text = " ".join(category.split())
    if not text:
        raise CatalogError("A category is empty.")
    if any(q in text for q in _QUOTES):
        raise CatalogError(f"The category {text!r} contains a quote mark.")
    return f'"{text}"'


def make_entry(name: str, query: str = "", categories: Iterable[str] = ()) -> CatalogEntry:
    """Build a catalog topic from its name, query and feed categories; raise CatalogError."""
    name = check_name(name)
    parts = [query.strip()] if query.strip() else []
    parts.extend(_category_term(c) for c in categories)
    if not parts:
        raise CatalogError("Give the topic a query, categories or both.")
    try:
        parsed = parse_query(" OR ".join(parts))
    except QueryError as err:
        raise CatalogError(str(err)) from None
    return CatalogEntry(name=name, query=parsed)


def find_entry(entries: Iterable[CatalogEntry], name: str) -> CatalogEntry | None:
    """Return the entry called name (any case), or None."""
    key = name_key(name)
    return next((e for e in entries if e.key == key), None)


def check_catalog(entries: Sequence[CatalogEntry]) -> None:
    """Refuse repeated names, repeated queries and catalogs too large for a keyboard."""
    if len(entries) > MAX_CATALOG_TOPICS:
        raise CatalogError(
            f"{len(entries)} topics is too many: a catalog holds at most {MAX_CATALOG_TOPICS}."
        )
    names: dict[str, str] = {}
    queries: dict[str, str] = {}
    for entry in entries:
        if entry.key in names:
            raise CatalogError(f"The name {entry.name} appears twice.")
        names[entry.key] = entry.name
        other = queries.get(entry.query.canonical)
        if other is not None:
            raise CatalogError(f"{entry.name} and {other} have the same query.")
        queries[entry.query.canonical] = entry.name


# Built-in topics. Each query stays within the 10 terms a query may hold; plural
# folding makes `sport` match "sports" and a feed's "Sports" category alike.
DEFAULT_TOPICS: tuple[tuple[str, str], ...] = (
    (
        N_("World"),
        'world OR international OR "united nations" OR diplomat OR diplomacy OR embassy '
        'OR refugee OR treaty OR ceasefire -"world cup"',
    ),
    (
        N_("Politics"),
        "politics OR political OR election OR parliament OR minister OR senate OR congress "
        "OR referendum OR lawmaker OR campaign",
    ),
    (
        N_("Business"),
        "business OR economy OR economic OR market OR stock OR earnings OR inflation "
        'OR investor OR company OR "central bank"',
    ),
    (
        N_("Technology"),
        'technology OR tech OR software OR ai OR "artificial intelligence" OR internet '
        "OR smartphone OR cybersecurity OR cyberattack OR startup",
    ),
    (
        N_("Science"),
        "science OR scientist OR researcher OR space OR nasa OR climate OR physics "
        "OR biology OR astronomer OR fossil",
    ),
    (
        N_("Health"),
        "health OR medical OR medicine OR hospital OR disease OR vaccine OR virus "
        "OR doctor OR cancer OR patient",
    ),
    (
        N_("Sports"),
        "sport OR football OR soccer OR tennis OR basketball OR cricket OR olympic "
        "OR rugby OR golf OR championship",
    ),
    (
        N_("Entertainment"),
        "entertainment OR film OR movie OR music OR celebrity OR television OR actor "
        'OR singer OR festival OR "box office"',
    ),
)

DEFAULT_CATALOG: tuple[CatalogEntry, ...] = tuple(make_entry(n, q) for n, q in DEFAULT_TOPICS)
# The built-in catalog's names are translated where chats see them; operators' own are not.
BUILTIN_NAMES = frozenset(name for name, _ in DEFAULT_TOPICS)


def catalog_label(name: str, t: Translator = ENGLISH) -> str:
    """Return a catalog topic's name in the chat's language (built-in names only)."""
    return t.gettext(name) if name in BUILTIN_NAMES else name


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise CatalogError(f"{what} must be text, not {type(value).__name__}")
    return value


def _entry_from(item: Any, index: int) -> CatalogEntry:
    where = f"topics[{index}]"
    if not isinstance(item, Mapping):
        raise CatalogError(f"{where} must be a table with name and query")
    unknown = sorted(str(k) for k in item if k not in _TOPIC_KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown key {unknown[0]!r} (use name, query, categories)")
    if "name" not in item:
        raise CatalogError(f"{where}: name is missing")
    name = _text(item["name"], f"{where}.name")
    where = f"{where} ({name.strip() or 'no name'})"
    query = _text(item.get("query", ""), f"{where}.query")
    raw_categories = item.get("categories", [])
    if isinstance(raw_categories, str):
        raw_categories = [raw_categories]
    if not isinstance(raw_categories, list):
        raise CatalogError(f"{where}.categories must be a list of text")
    categories = [_text(c, f"{where}.categories") for c in raw_categories]
    try:
        return make_entry(name, query, categories)
    except CatalogError as err:
        raise CatalogError(f"{where}: {err}") from None


def catalog_from_data(data: Any) -> CatalogFile:
    """Validate a parsed TOPICS_FILE; raise CatalogError naming the first problem."""
    if not isinstance(data, Mapping):
        raise CatalogError(FILE_SHAPE)
    unknown = sorted(str(k) for k in data if k not in _FILE_KEYS)
    if unknown:
        raise CatalogError(f"unknown key {unknown[0]!r}; {FILE_SHAPE}")
    include = data.get("include_defaults", False)
    if not isinstance(include, bool):
        raise CatalogError("include_defaults must be true or false")
    items = data.get("topics")
    if not isinstance(items, list):
        raise CatalogError(FILE_SHAPE)
    entries = tuple(_entry_from(item, i) for i, item in enumerate(items, start=1))
    check_catalog(entries)
    return CatalogFile(entries=entries, include_defaults=include)


def parse_catalog_text(text: str, *, fmt: str) -> CatalogFile:
    """Parse TOPICS_FILE content in "yaml" or "toml"; raise CatalogError on any problem."""
    if fmt == "toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise CatalogError(f"not valid TOML: {err}") from None
    elif fmt == "yaml":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            problem = getattr(err, "problem", None) or "syntax error"
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise CatalogError(f"not valid YAML{where}: {problem}") from None
    else:
        raise CatalogError(f"unknown format {fmt!r}")
    return catalog_from_data(data)


def load_catalog_file(path: Path) -> CatalogFile:
    """Read and validate a TOPICS_FILE; errors name the file and the problem."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise CatalogError(f"{path}: the name must end in .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CatalogError(f"{path}: cannot read it ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text") from None
    try:
        return parse_catalog_text(text, fmt=fmt)
    except CatalogError as err:
        raise CatalogError(f"{path}: {err}") from None


def plan_catalog(source: CatalogFile | None) -> CatalogPlan:
    """Return what to apply at start.

    Without a file the built-in topics are added once (later /removetopic sticks). A file
    is the whole catalog at every start; with include_defaults its topics extend the
    built-in ones, replacing those of the same name.
    """
    if source is None:
        return CatalogPlan(entries=DEFAULT_CATALOG, replace=False)
    if not source.include_defaults:
        return CatalogPlan(entries=source.entries, replace=True)
    own = {e.key: e for e in source.entries}
    builtin = {e.key for e in DEFAULT_CATALOG}
    merged = (
        *(own.get(e.key, e) for e in DEFAULT_CATALOG),
        *(e for e in source.entries if e.key not in builtin),
    )
    check_catalog(merged)
    return CatalogPlan(entries=merged, replace=True)
