"""Telegram's HTML parse mode: validation as the Bot API does it, and lengths as it counts them.

https://core.telegram.org/bots/api#html-style and #sendmessage: texts are at most 4096 UTF-16
code units after entity parsing; only a small set of tags is allowed and every `<`, `>` and
`&` outside a tag must be escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]


ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "tg-emoji", "code", "pre", "blockquote",
    }
)  # fmt: skip
_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL = re.compile(r"[<>&]")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{0,31}));")


class EntityParseError(ValueError):
    """Text in HTML parse mode is not valid Telegram HTML."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedText:
    """Visible text, its entities (UTF-16 offsets) and the links of `<a href>` tags."""

    plain: str
    entities: tuple[JSON, ...]
    links: tuple[str, ...]


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the visible text


def utf16_len(text: str) -> int:
    """Return the length of text in UTF-16 code units, as Telegram counts it."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, index: int, *, strict: bool) -> tuple[str, int] | None:
    """Decode the character reference at text[index] ('&'); return (char, end index)."""
    match = _ENTITY.match(text, index)
    if match is not None:
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            if name in _NAMED_ENTITIES:
                return _NAMED_ENTITIES[name], match.end()
            if strict:
                raise EntityParseError(
                    f'Unsupported HTML entity "{match.group(0)}" '
                    f"at byte offset {_byte_offset(text, index)}"
                )
            return None
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), match.end()
    if strict:
        raise EntityParseError(
            f'Character "&" at byte offset {_byte_offset(text, index)} must be escaped as "&amp;"'
        )
    return None


def _scan_name(text: str, index: int) -> int:
    while index < len(text) and not text[index].isspace() and text[index] != ">":
        index += 1
    return index


def _skip_spaces(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _parse_attributes(text: str, index: int, *, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes after a start tag name; return them and the index after '>'."""
    attrs: dict[str, str] = {}
    unclosed = f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
    while True:
        index = _skip_spaces(text, index)
        if index >= len(text):
            raise EntityParseError(unclosed)
        if text[index] == ">":
            return attrs, index + 1
        name_start = index
        while index < len(text) and not text[index].isspace() and text[index] not in "=>":
            index += 1
        name = text[name_start:index].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" '
                f"at byte offset {_byte_offset(text, name_start)}"
            )
        index = _skip_spaces(text, index)
        if index >= len(text) or text[index] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        index = _skip_spaces(text, index + 1)
        if index >= len(text):
            raise EntityParseError(unclosed)
        value_chars: list[str] = []
        quote = text[index]
        if quote in "\"'":
            index += 1
            while index < len(text) and text[index] != quote:
                # Telegram keeps an '&' that starts no entity inside attribute values.
                decoded = _decode_entity(text, index, strict=False) if text[index] == "&" else None
                if decoded is None:
                    value_chars.append(text[index])
                    index += 1
                else:
                    value_chars.append(decoded[0])
                    index = decoded[1]
            if index >= len(text):
                raise EntityParseError(unclosed)
            index += 1
        else:
            while index < len(text) and not text[index].isspace() and text[index] != ">":
                value_chars.append(text[index])
                index += 1
        attrs[name] = "".join(value_chars)


def _check_tag(name: str, attrs: dict[str, str]) -> None:
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError('Tag "span" must have class "tg-spoiler"')
    if name == "a" and not attrs.get("href"):
        raise EntityParseError('Tag "a" must have attribute "href"')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')


def _entity_for(tag: _OpenTag, end: int) -> JSON:
    entity: JSON = {"type": _ENTITY_TYPES[tag.name], "offset": tag.start, "length": end - tag.start}
    if tag.name == "a":
        entity["url"] = tag.attrs["href"]
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    elif tag.name == "code" and tag.attrs.get("class", "").startswith("language-"):
        entity["language"] = tag.attrs["class"].removeprefix("language-")
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def parse_html(text: str) -> ParsedText:
    """Parse Telegram's HTML subset; raise EntityParseError with Telegram's reason.

    Stricter than Telegram on purpose, so escaping bugs surface: a bare '&' or '>' and unknown
    named entities are rejected (the Bot API docs require them escaped; Telegram tolerates
    them), and `<a>` needs an href.
    """
    out: list[str] = []
    utf16 = 0
    stack: list[_OpenTag] = []
    entities: list[JSON] = []
    links: list[str] = []
    index = 0
    while index < len(text):
        special = _SPECIAL.search(text, index)
        stop = special.start() if special else len(text)
        if stop > index:
            chunk = text[index:stop]
            out.append(chunk)
            utf16 += utf16_len(chunk)
            index = stop
            continue
        char = text[index]
        if char == "&":
            decoded = _decode_entity(text, index, strict=True)
            assert decoded is not None  # strict decoding raises instead
            out.append(decoded[0])
            utf16 += utf16_len(decoded[0])
            index = decoded[1]
            continue
        if char == ">":
            raise EntityParseError(
                f'Character ">" at byte offset {_byte_offset(text, index)} '
                'must be escaped as "&gt;"'
            )
        begin = index
        if index + 1 < len(text) and text[index + 1] == "/":
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            name_end = _scan_name(text, index + 2)
            end_name = text[index + 2 : name_end].lower()
            index = _skip_spaces(text, name_end)
            if index >= len(text) or text[index] != ">":
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            open_tag = stack.pop()
            if end_name and end_name != open_tag.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{open_tag.name}>", found "</{end_name}>"'
                )
            index += 1
            if utf16 > open_tag.start:
                entities.append(_entity_for(open_tag, utf16))
            if open_tag.name == "a":
                links.append(open_tag.attrs["href"])
            continue
        name_end = _scan_name(text, index + 1)
        if name_end >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        name = text[index + 1 : name_end].lower()
        if name not in ALLOWED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs, index = _parse_attributes(text, name_end, tag=name, begin=begin)
        _check_tag(name, attrs)
        stack.append(_OpenTag(name=name, attrs=attrs, start=utf16))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return ParsedText(plain="".join(out), entities=tuple(entities), links=tuple(links))
