"""The terminal side of `newsbot shell`: messages as Telegram would show them, in ANSI."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from bot.emulator import parse_html

JSON = dict[str, Any]

# Entity types (https://core.telegram.org/bots/api#messageentity) and their ANSI styles.
_STYLES = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "code": "2",
    "pre": "2",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as Telegram would show its text (`plain`) and as the terminal prints it."""

    plain: str
    display: str


def _indexes(plain: str) -> list[int]:
    """Return the UTF-16 offset of each character of `plain`, and of its end."""
    offsets = [0]
    for char in plain:
        offsets.append(offsets[-1] + (2 if ord(char) > 0xFFFF else 1))
    return offsets


def styled(plain: str, entities: Sequence[JSON], *, color: bool) -> str:
    """Return `plain` for a terminal: styles as ANSI codes (with `color`), links as
    `text <url>` (unless the text is the URL), quotes marked with a bar."""
    offsets = _indexes(plain)
    spans = []
    for entity in entities:
        start = bisect.bisect_left(offsets, int(entity["offset"]))
        end = bisect.bisect_left(offsets, int(entity["offset"]) + int(entity["length"]))
        spans.append((start, end, entity))
    spans.sort(key=lambda span: (span[0], -span[1]))
    inner_first = sorted(spans, key=lambda span: -span[0])
    out: list[str] = []
    active: list[str] = []
    for index in range(len(plain) + 1):
        # Inner spans end first, so a link's URL follows its own text.
        for start, end, entity in inner_first:
            if end == index and entity["type"] == "text_link" and start < end:
                url = str(entity.get("url", ""))
                if url and url != plain[start:end].strip():
                    out.append(f" <{url}>")
        styles = [
            _STYLES[entity["type"]]
            for start, end, entity in spans
            if start <= index < end and entity["type"] in _STYLES
        ]
        if color and styles != active:
            out.append("\x1b[0m" + "".join(f"\x1b[{s}m" for s in styles))
            active = styles
        for start, _, entity in spans:
            if start == index and entity["type"] in ("blockquote", "expandable_blockquote"):
                out.append("│ ")
        if index < len(plain):
            out.append(plain[index])
    return "".join(out)


def render_html(text: str, *, color: bool) -> Rendered:
    """Render Telegram HTML for a terminal: bold as ANSI bold, links as `text <url>`.

    Raises bot.emulator.EntityParseError where Telegram would refuse the text.
    """
    parsed = parse_html(text)
    return Rendered(plain=parsed.plain, display=styled(parsed.plain, parsed.entities, color=color))


class Terminal:
    """Print the conversation; one call prints one whole message."""

    def __init__(self, *, out: TextIO, color: bool, prompt: bool) -> None:
        self.out = out
        self.color = color
        self.prompt_text = "you> " if prompt else ""
        self._lock = threading.Lock()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def message(self, *, header: str, body: str, buttons: Sequence[tuple[int, str]] = ()) -> None:
        """Print a message from the bot, its continuation lines indented under the header."""
        head = self._style(header, "36")
        indent = " " * len(header)
        lines = body.split("\n") or [""]
        text = [f"{head} {lines[0]}"]
        text.extend(f"{indent} {line}" if line else "" for line in lines[1:])
        if buttons:
            choices = "   ".join(f"[{n}] {label}" for n, label in buttons)
            text.append(f"{indent} {self._style(choices, '33')}")
        self._write("\n".join(text))

    def note(self, text: str, *, last: bool = False) -> None:
        """Print a line of the shell itself (not the bot); `last` shows no prompt after it."""
        self._write(self._style(text, "2"), reprompt=not last)

    def prompt(self) -> None:
        """Show the prompt (only when a person types at a terminal)."""
        if self.prompt_text:
            with self._lock:
                self.out.write(self.prompt_text)
                self.out.flush()

    def _write(self, text: str, *, reprompt: bool = True) -> None:
        with self._lock:
            clear = "\r\x1b[K" if self.prompt_text else ""
            self.out.write(f"{clear}{text}\n")
            if self.prompt_text and reprompt:
                self.out.write(self.prompt_text)
            self.out.flush()
