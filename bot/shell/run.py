"""`newsbot shell`: chat with the bot in a terminal, with no token and no network.

The bot is the real one (`build_application`: the same handlers, jobs, watcher and door);
only its two ends are replaced. Bot API calls go to the emulator in `bot.shell.api`, the one
the tests serve over HTTP, answered in-process; without `FEEDS`, the news comes from the
sample wire in `bot.shell.sample`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from pydantic import SecretStr
from sqlalchemy.engine import Engine
from telegram import Update
from telegram.ext import TypeHandler

from bot.config import Settings
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.shell.api import SHELL_TOKEN, ShellApi, ShellRequest
from bot.shell.repl import DEFAULT_ADMIN_ID, LineReader, Shell
from bot.shell.sample import (
    SAMPLE_FEED_URL,
    SampleWire,
    followed_topics_first,
    load_stories,
    sample_client,
)
from bot.shell.terminal import Terminal

# The handlers of this group run once the bot's own handlers for an update have finished.
DONE_GROUP = 1_000_000


class ShellError(Exception):
    """The shell can't start; the message says why."""


def shell_settings(settings: Settings) -> Settings:
    """Return the settings the shell runs with: a local token, a short poll for the sample."""
    update: dict[str, Any] = {"telegram_bot_token": SecretStr(SHELL_TOKEN)}
    if not settings.admin_ids:
        update["admin_ids"] = [DEFAULT_ADMIN_ID]
    if not settings.feeds:
        update["feeds"] = [SAMPLE_FEED_URL]
        poll = max(1, math.ceil(settings.sample_interval_seconds / 4))
        update["poll_interval_seconds"] = min(settings.poll_interval_seconds, poll)
    return settings.model_copy(update=update)


def run_shell(settings: Settings, *, out: TextIO | None = None) -> int:
    """Run the bot against the terminal until /quit, end of input or Ctrl-C."""
    from bot.app import build_application
    from bot.db import migrate
    from bot.db.engine import make_engine
    from bot.ops import standby
    from bot.ops.logs import setup_logging

    out = out or sys.stdout
    interactive = sys.stdin.isatty() and out.isatty()
    color = out.isatty() and not os.environ.get("NO_COLOR")
    level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
    setup_logging(level, secrets=[SHELL_TOKEN], tracebacks=False)

    local = shell_settings(settings)
    use_sample = not settings.feeds
    engine = make_engine(local.database_url)
    lock = None
    try:
        if standby.uses_lock(local.database_url):
            lock = standby.InstanceLock(local.database_url)
            if not lock.try_acquire():
                raise ShellError(
                    "another newsbot instance is active on this database. The shell answers "
                    "every chat itself: give it a database of its own, e.g. "
                    "DATABASE_URL=sqlite:///newsbot-shell.db"
                )
        migrate.upgrade(engine)
        if use_sample:
            with session_scope(engine) as session:
                feeds_db.reset_feed(session=session, url=SAMPLE_FEED_URL)
        return _run(
            local,
            engine=engine,
            use_sample=use_sample,
            out=out,
            color=color,
            interactive=interactive,
            build=build_application,
        )
    finally:
        if use_sample:
            with contextlib.suppress(Exception), session_scope(engine) as session:
                # So that a later `newsbot run` on this database does not poll it.
                feeds_db.set_feed_enabled(session=session, url=SAMPLE_FEED_URL, enabled=False)
        if lock is not None:
            lock.release()
        engine.dispose()


def _run(
    settings: Settings,
    *,
    engine: Engine,
    use_sample: bool,
    out: TextIO,
    color: bool,
    interactive: bool,
    build: Callable[..., Any],
) -> int:
    import signal

    terminal = Terminal(out=out, color=color, prompt=interactive)
    api = ShellApi(terminal)
    wire = None
    feed_client = None
    if use_sample:
        name, stories = load_stories()
        wire = SampleWire(
            name=name,
            stories=stories,
            interval=settings.sample_interval_seconds,
            prefer=followed_topics_first(engine),
        )
        feed_client = sample_client(wire, settings)
    application = build(settings, engine=engine, request=ShellRequest(api), feed_client=feed_client)
    shell = Shell(
        api=api,
        terminal=terminal,
        admins=settings.admin_ids,
        interval=settings.sample_interval_seconds,
    )

    async def handled(update: Update, context: Any) -> None:
        api.done(update.update_id)

    # The last group runs once the bot's own handlers for the update have finished.
    application.add_handler(TypeHandler(Update, handled), group=DONE_GROUP)
    original_post_init = application.post_init
    original_post_stop = application.post_stop
    tasks: list[asyncio.Task[None]] = []

    async def post_init(app: Any) -> None:
        if original_post_init is not None:
            await original_post_init(app)
        loop = asyncio.get_running_loop()
        stopping = False

        def stop() -> None:
            # Once only: a second stop_running() during shutdown would halt the loop early.
            nonlocal stopping
            if not stopping:
                stopping = True
                app.stop_running()

        shell.stop = stop
        if wire is not None:
            # The first poll stores the wire's first stories as history: /latest answers now.
            await app.bot_data.watcher.poll_round()

        async def greet(context: Any) -> None:
            # A job runs once the application has started: taking input (and Ctrl-C) only
            # from then on never stops a half-started application.
            shell.banner(sample=wire.name if wire else None, feeds=len(settings.feeds))

            tasks.append(asyncio.create_task(shell.run()))

            def on_line(line: str) -> None:
                loop.call_soon_threadsafe(shell.feed, line)

            def on_eof() -> None:
                loop.call_soon_threadsafe(shell.feed, None)

            LineReader(on_line, on_eof).start()

        app.job_queue.run_once(greet, 0, name="shell-greet")

    async def post_stop(app: Any) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if original_post_stop is not None:
            await original_post_stop(app)

    application.post_init = post_init
    application.post_stop = post_stop
    application.run_polling(
        allowed_updates=Update.ALL_TYPES,
        stop_signals=(signal.SIGINT, signal.SIGTERM),
        close_loop=False,
    )
    terminal.note("bye", last=True)
    return 0
