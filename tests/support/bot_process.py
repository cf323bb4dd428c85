"""Run `python -m bot run` as a child process against the stand-in servers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.telegram_api import FakeTelegram

# Settings a developer's shell may carry that must not leak into a test's bot.
_ISOLATED = ("FEEDS", "ADMIN_IDS", "DATABASE_URL", "WEBHOOK_", "METRICS_")


def bot_env(telegram: FakeTelegram, db_path: Path, **settings: str) -> dict[str, str]:
    """Return the environment for a bot talking to `telegram`, with `settings` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ISOLATED)}
    env.update(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        DATABASE_URL=f"sqlite:///{db_path}",
        POLL_INTERVAL_SECONDS="1",
        ALLOW_PRIVATE_NETWORKS="true",
        METRICS_PORT="0",
    )
    env.update(settings)
    return env


def commands_registered(telegram: FakeTelegram) -> Callable[[], object]:
    """Return a readiness check: the bot registered its command menu (its start-up is done)."""
    return lambda: telegram.wait_for(telegram.commands, timeout=30, what="setMyCommands")


def stop_bot(process: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """Stop the bot with SIGTERM (SIGKILL if it hangs) and return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


@contextmanager
def running_bot(
    env: dict[str, str],
    *,
    cwd: Path,
    log_path: Path,
    ready: Callable[[], object] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `newsbot run`, wait for `ready()` (if given), and stop it on the way out."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        if ready is not None:
            ready()
        yield process
    finally:
        stop_bot(process)


def feed_seeded(db_path: Path) -> bool:
    """Tell whether the first poll of the feed has been recorded."""
    with sqlite3.connect(db_path) as conn:
        rows = list(conn.execute("select seeded from feed"))
    return rows == [(1,)]
