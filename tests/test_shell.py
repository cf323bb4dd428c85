"""`newsbot shell`: the real bot in a terminal, with no token and no network.

End to end, `python -m bot shell` runs as a process driven through its standard input and
output; the pure parts (HTML for terminals, the sample wire) and the in-process Bot API are
tested directly.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.feeds.fetcher import FetchLimits, fetch
from bot.feeds.parser import parse_feed
from bot.shell import (
    SAMPLE_FEED_URL,
    SampleTransport,
    SampleWire,
    Story,
    load_stories,
    render_html,
)
from bot.shell.api import DEFAULT_USER_ID, SHELL_TOKEN, ShellApi, ShellRequest
from bot.shell.terminal import Terminal
from tests.support.shell_process import ADMIN, ShellProcess, shell_env

SECTIONS = {"World", "Politics", "Business", "Technology", "Science", "Health", "Sports"}


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[ShellProcess]:
    proc = ShellProcess(tmp_path)
    try:
        proc.wait_for("newsbot shell", timeout=30)
        yield proc
    finally:
        proc.close()


def test_try_it_in_a_terminal(shell: ShellProcess) -> None:
    _, stories = load_stories()
    world_titles = [s.title for s in stories if s.section == "World"]
    all_titles = [s.title for s in stories]

    mark = shell.send("/start")
    shell.wait_for("Welcome", since=mark)

    # History was stored before the prompt: /latest answers at once.
    mark = shell.send("/latest")
    headline = shell.wait_for(r"^newsbot: ", since=mark)
    assert any(title in headline for title in all_titles)
    shell.wait_for("Newsbot Sample Wire · ", since=mark)
    shell.wait_for(r"Read the full story <https://wire\.newsbot\.example/stories/", since=mark)

    # A topic subscription gets an alert from the sample wire soon after.
    mark = shell.send("/subscribe world")
    shell.wait_for("Subscribed to", since=mark)
    started = time.monotonic()
    alert = shell.wait_for("|".join(re.escape(t) for t in world_titles), since=mark + 1, timeout=20)
    assert alert.startswith("newsbot: ")
    assert time.monotonic() - started < 20

    mark = shell.send("/unsubscribe world")
    shell.wait_for("Unsubscribed from", since=mark)

    # Buttons become numbered choices: an operator broadcasts and confirms by number.
    mark = shell.send(f"/as {ADMIN}")
    shell.wait_for(f"you are now user {ADMIN} \\(an operator", since=mark)
    mark = shell.send("/broadcast Tea & cake <today> at four")
    shell.wait_for("Broadcast preview", since=mark)
    buttons = shell.wait_for(r"\[\d+\] ✅ Confirm", since=mark)
    confirm = re.search(r"\[(\d+)\] ✅ Confirm", buttons)
    assert confirm is not None
    mark = shell.send(confirm.group(1))
    shell.wait_for(r"newsbot \(notice\): Sending", since=mark)
    shell.wait_for(r"newsbot → chat 1001: Tea & cake <today> at four", since=mark)
    shell.wait_for("Broadcast finished: delivered to 1 of 1", since=mark)

    # Plain text gets the bot's answer; /quit leaves with exit code 0.
    mark = shell.send("hello there")
    shell.wait_for("I understand commands only", since=mark)
    shell.send("/quit")
    assert shell.process.wait(timeout=15) == 0
    assert "Traceback" not in shell.stderr()


def test_end_of_input_leaves_cleanly(shell: ShellProcess) -> None:
    assert shell.process.stdin is not None
    shell.process.stdin.close()  # Ctrl-D
    assert shell.process.wait(timeout=15) == 0
    assert "Traceback" not in shell.stderr()


def test_terminal_gets_bold_a_prompt_and_ctrl_c(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "shell"],
        cwd=tmp_path,
        env=shell_env(tmp_path, TERM="xterm"),
        stdin=slave,
        stdout=slave,
        stderr=subprocess.DEVNULL,
    )
    os.close(slave)
    output = b""

    def read_until(needle: bytes, timeout: float = 30) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while needle not in output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{needle!r} not in {output[-2000:]!r}"
            ready, _, _ = select.select([master], [], [], remaining)
            if ready:
                try:
                    output += os.read(master, 65536)
                except OSError:
                    break

    try:
        read_until(b"you> ")
        os.write(master, b"/start\n")
        read_until(b"Welcome!")
        assert b"\x1b[1m" in output  # <b>Welcome!</b> in bold
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=15) == 0
        read_until(b"bye")
        assert b"Traceback" not in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


# --- the Bot API in-process ------------------------------------------------------------------


async def test_the_shell_refuses_what_telegram_refuses() -> None:
    # The shell's own Bot API used to print any HTML it was given, so a render bug showed as
    # a fine message in the shell and failed in Telegram. Now the tests' emulator answers.
    out = io.StringIO()
    api = ShellApi(Terminal(out=out, color=False, prompt=False))
    bot = Bot(SHELL_TOKEN, request=ShellRequest(api), get_updates_request=ShellRequest(api))
    me = DEFAULT_USER_ID
    async with bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(me, "Tea & cake <today>", parse_mode=ParseMode.HTML)
        # 4096 characters, 4097 UTF-16 code units: the emoji counts twice.
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(me, "x" * 4095 + "🌊")
        too_long_data = InlineKeyboardButton("Pick", callback_data="é" * 33)  # 66 bytes
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(
                me, "Choose", reply_markup=InlineKeyboardMarkup([[too_long_data]])
            )
        await bot.send_message(me, "<b>Tea &amp; cake</b> &lt;today&gt;", parse_mode=ParseMode.HTML)
    printed = out.getvalue()
    assert "(Telegram refuses this sendMessage: Bad Request: can't parse entities" in printed
    assert "(Telegram refuses this sendMessage: Bad Request: message is too long)" in printed
    assert "BUTTON_DATA_INVALID" in printed
    assert printed.count("newsbot:") == 1
    assert "newsbot: Tea & cake <today>\n" in printed


async def test_buttons_become_numbered_choices_that_press_them() -> None:
    out = io.StringIO()
    api = ShellApi(Terminal(out=out, color=False, prompt=False))
    bot = Bot(SHELL_TOKEN, request=ShellRequest(api), get_updates_request=ShellRequest(api))
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="y"),
                InlineKeyboardButton("No", callback_data="n"),
            ]
        ]
    )
    async with bot:
        sent = await bot.send_message(DEFAULT_USER_ID, "Sure?", reply_markup=keyboard)
        assert "newsbot: Sure?\n         [1] Yes   [2] No\n" in out.getvalue()
        assert api.press(2)
        assert not api.press(3)
        (update,) = await bot.get_updates(timeout=1)
        assert update.callback_query is not None
        assert update.callback_query.data == "n"
        assert update.callback_query.message is not None
        assert update.callback_query.message.message_id == sent.message_id
        await bot.answer_callback_query(update.callback_query.id, "Noted")
        await bot.edit_message_text(
            "Sure? No.", chat_id=DEFAULT_USER_ID, message_id=sent.message_id
        )
    printed = out.getvalue()
    assert "newsbot (notice): Noted" in printed
    assert "newsbot (edited): Sure? No." in printed
    assert api.choices == {}  # the edit removed the keyboard


# --- pure parts ------------------------------------------------------------------------------


def test_render_html_for_terminals() -> None:
    html = (
        '<b>Storm &amp; floods</b> hit <i>Norvik</i>\n<a href="https://news.example/a?b=1&amp;c=2">'
        'Read more</a> · <a href="https://x.example/">https://x.example/</a> &lt;ok&gt;'
    )
    plain = render_html(html, color=False)
    assert plain.plain == "Storm & floods hit Norvik\nRead more · https://x.example/ <ok>"
    assert plain.display == (
        "Storm & floods hit Norvik\nRead more <https://news.example/a?b=1&c=2> · "
        "https://x.example/ <ok>"
    )
    colored = render_html("<b>bold <i>both</i></b> none", color=True)
    assert colored.plain == "bold both none"
    assert colored.display.startswith("\x1b[0m\x1b[1mbold ")
    assert "\x1b[0m\x1b[1m\x1b[3mboth" in colored.display
    assert colored.display.endswith("\x1b[0m none")


def test_sample_stories_cover_the_common_topics() -> None:
    name, stories = load_stories()
    assert name
    assert len(stories) >= 40
    assert len({s.id for s in stories}) == len(stories)
    sections = {s.section for s in stories}
    assert SECTIONS | {"Entertainment"} <= sections
    for section in sections:
        assert sum(s.section == section for s in stories) >= 4
    # The first stories out (history at start) span the sections.
    assert {s.section for s in stories[:8]} == SECTIONS | {"Entertainment"}


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 12, 9, 0, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def _stories(n: int) -> list[Story]:
    sections = ["World", "Sports"]
    return [
        Story(
            id=f"s{i}",
            section=sections[i % 2],
            tags=("Tag",),
            title=f"Story number {i} & more",
            summary=f"Summary {i}.",
            body=(f"Body of story {i}.",),
        )
        for i in range(n)
    ]


def test_sample_wire_releases_on_schedule_and_prefers() -> None:
    clock = FakeClock()
    wanted: list[list[str]] = []

    def prefer(candidates: list[Story]) -> Story | None:
        wanted.append([s.id for s in candidates])
        sports = [s for s in candidates if s.section == "Sports"]
        return sports[0] if sports else None

    wire = SampleWire(
        name="Test Wire", stories=_stories(5), interval=20, prefer=prefer, clock=clock, initial=2
    )
    assert [r.story.id for r in wire.released] == ["s0", "s1"]
    assert wire.advance() == 0
    clock.now += 19.9
    assert wire.advance() == 0
    clock.now += 0.2
    assert wire.advance() == 1
    assert wire.released[-1].story.id == "s3"  # preferred over s2
    # After a long pause only a few stories come out at once.
    clock.now += 3600
    assert wire.advance() == 3
    # The wire started over: new slugs, so new guids and links.
    slugs = [r.slug for r in wire.released]
    assert len(slugs) == len(set(slugs)) == 6
    assert any(slug.endswith("-2") for slug in slugs)


async def test_sample_feed_through_the_real_fetcher_and_parser() -> None:
    clock = FakeClock()
    wire = SampleWire(name="Test Wire", stories=_stories(4), interval=20, clock=clock, initial=2)
    transport = SampleTransport(wire, fallback=httpx.MockTransport(lambda r: httpx.Response(599)))
    limits = FetchLimits(timeout_seconds=5)
    async with httpx.AsyncClient(transport=transport) as client:
        first = await fetch(client, SAMPLE_FEED_URL, limits=limits)
        parsed = parse_feed(first.body, url=first.url, headers=first.headers)
        assert parsed.title == "Test Wire"
        assert [e.title for e in parsed.entries] == [
            "Story number 0 & more",
            "Story number 1 & more",
        ]
        assert parsed.entries[0].categories == ("World", "Tag")
        assert parsed.entries[0].link is not None
        # Conditional GET: unchanged until the next story is out.
        again = await fetch(client, SAMPLE_FEED_URL, limits=limits, etag=first.etag)
        assert again.not_modified
        clock.now += 20
        newer = await fetch(client, SAMPLE_FEED_URL, limits=limits, etag=first.etag)
        assert not newer.not_modified
        assert len(parse_feed(newer.body, url=newer.url, headers=newer.headers).entries) == 3
        page = await fetch(client, parsed.entries[0].link, limits=limits)
        assert b"<p>Body of story 0.</p>" in page.body
        # Other hosts go to the fallback transport.
        other = httpx.Request("GET", "https://elsewhere.example/")
        assert (await transport.handle_async_request(other)).status_code == 599
