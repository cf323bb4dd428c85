"""The lines typed in `newsbot shell`: chat messages, button numbers and the shell's own
commands, taken one at a time."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence

from bot.shell.api import ShellApi
from bot.shell.terminal import Terminal

# With no ADMIN_IDS, this user may use operator commands, so /broadcast can be tried.
DEFAULT_ADMIN_ID = 1
# Longest wait for the bot to finish one line before the next is taken anyway (a handler
# may stop an update early, e.g. the flood guard).
TURN_LIMIT_SECONDS = 5.0


class Shell:
    """Take the lines typed, one at a time, and turn them into updates or shell commands.

    The next line waits until the bot has handled the previous one, so replies come in the
    order the lines were typed, also when a script is piped in.
    """

    def __init__(
        self, *, api: ShellApi, terminal: Terminal, admins: Sequence[int], interval: float
    ) -> None:
        self.api = api
        self.terminal = terminal
        self.admins = list(admins)
        self.interval = interval
        self.stop: Callable[[], None] = lambda: None
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()

    def feed(self, line: str | None) -> None:
        """Queue a typed line; None is the end of input."""
        self.lines.put_nowait(line)

    async def run(self) -> None:
        """Handle the queued lines until /quit or the end of input, then stop the bot."""
        while True:
            line = await self.lines.get()
            await self.api.wait_idle(TURN_LIMIT_SECONDS)
            if line is None or not self.handle(line):
                break
        await self.api.wait_idle(TURN_LIMIT_SECONDS)
        self.stop()

    def handle(self, line: str) -> bool:
        """Act on one line; return False when it asks to leave."""
        text = line.strip()
        if not text:
            self.terminal.prompt()
            return True
        word = text.split(maxsplit=1)[0].lower()
        if word in ("/quit", "/exit"):
            return False
        if word == "/as":
            self._switch(text.split(maxsplit=1)[1] if " " in text else "")
        elif text.isdigit() and int(text) in self.api.choices:
            self.api.press(int(text))
        else:
            self.api.say(text)
        return True

    def _switch(self, who: str) -> None:
        who = who.strip().lower()
        if who in ("admin", "operator") and self.admins:
            who = str(self.admins[0])
        if not re.fullmatch(r"[1-9]\d{0,14}", who):
            self.terminal.note("usage: /as USER_ID (a positive number), or /as admin")
            return
        self.api.user_id = int(who)
        role = " (an operator: ADMIN_IDS)" if self.api.user_id in self.admins else ""
        self.terminal.note(f"you are now user {self.api.user_id}{role}, in your private chat")

    def banner(self, *, sample: str | None, feeds: int) -> None:
        """Say what this is and how to use it."""
        admin = self.admins[0] if self.admins else DEFAULT_ADMIN_ID
        source = (
            f"news: {sample}, invented stories; a new one about every "
            f"{self.interval:g} s (stories matching your topics come first)"
            if sample
            else f"news: the {feeds} feed{'s' if feeds != 1 else ''} in FEEDS"
        )
        self.terminal.note(
            "newsbot shell: chat with the bot right here (no Telegram, no token).\n"
            f"You are user {self.api.user_id} in a private chat. {source}.\n"
            "Try /start, /subscribe world, /latest, /help.\n"
            f"Shell commands: /as USER_ID to switch users (/as {admin} is an operator), "
            "/quit or Ctrl-D to leave."
        )


class LineReader(threading.Thread):
    """Read standard input without Python's buffered reader, whose lock a daemon thread
    blocked in a read would hold at interpreter exit."""

    def __init__(self, on_line: Callable[[str], None], on_eof: Callable[[], None]) -> None:
        super().__init__(name="shell-input", daemon=True)
        self.on_line = on_line
        self.on_eof = on_eof

    def run(self) -> None:
        pending = b""
        fd = sys.stdin.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                if pending.strip():
                    self.on_line(pending.decode("utf-8", "replace"))
                self.on_eof()
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self.on_line(line.decode("utf-8", "replace").rstrip("\r"))
