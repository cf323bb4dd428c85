"""`newsbot shell`: chat with the bot in a terminal, with no token and no network.

- `run`: the real application, wired to the terminal and the sample wire;
- `api`: the Bot API answered in-process by `bot.emulator`, which validates like Telegram;
- `repl`: the lines typed; `terminal`: what is printed; `sample`: the invented news source.
"""

from bot.shell.run import ShellError, run_shell
from bot.shell.sample import (
    SAMPLE_FEED_URL,
    SampleTransport,
    SampleWire,
    Story,
    load_stories,
)
from bot.shell.terminal import render_html

__all__ = [
    "SAMPLE_FEED_URL",
    "SampleTransport",
    "SampleWire",
    "ShellError",
    "Story",
    "load_stories",
    "render_html",
    "run_shell",
]
