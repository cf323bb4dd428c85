"""`newsbot feeds list|add|remove|import|export` as a process, against a local feed server."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import get_settings
from bot.feeds.opml import parse_opml
from bot.services.feed_admin import run_feeds
from tests.support.feed_server import FeedServer, rss
from tests.support.watcher import item

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Cli:
    tmp: Path
    env: dict[str, str]
    feeds: FeedServer

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=self.tmp,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def db(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.tmp / "newsbot.db") as conn:
            return list(conn.execute(sql))


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    with FeedServer() as feeds:
        feeds.set(
            "/world.xml", rss("World Wire", [item(n, f"Harvest story {n}") for n in range(3)])
        )
        feeds.set("/sport.xml", rss("Sport Desk", [item(20, "Cup final tonight")]))
        feeds.set("/page.html", "<html><body>A web page</body></html>", content_type="text/html")
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"FEEDS", "TELEGRAM_BOT_TOKEN"}},
            "DATABASE_URL": f"sqlite:///{tmp_path / 'newsbot.db'}",
            "ALLOW_PRIVATE_NETWORKS": "true",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
        yield Cli(tmp_path, env, feeds)


def one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("newsbot:")]
    assert len(lines) == 1 and text in lines[0], result.stderr


def run_in_process(cli: Cli, action: str, arg: str | None = None) -> tuple[int, str, str]:
    """Run the same command code without the cost of a new interpreter."""
    settings = get_settings(database_url=cli.env["DATABASE_URL"], allow_private_networks=True)
    out, err = io.StringIO(), io.StringIO()
    code = asyncio.run(run_feeds(settings=settings, action=action, arg=arg, stdout=out, stderr=err))
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_feeds_commands_as_processes(cli: Cli) -> None:
    world, sport, page = (cli.feeds.url(p) for p in ("/world.xml", "/sport.xml", "/page.html"))

    result = cli.run("feeds", "add", world)
    assert result.returncode == 0, result.stderr
    assert "added #1: World Wire (3 entries" in result.stdout
    assert cli.db("select count(*), sum(is_history) from entry") == [(3, 3)]

    opml = cli.tmp / "list.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline text="World" xmlUrl="{world}"/><outline text="Sport" xmlUrl="{sport}"/>'
        f'<outline text="Page" xmlUrl="{page}"/></body></opml>'
    )
    result = cli.run("feeds", "import", str(opml))
    assert result.returncode == 1  # one feed was refused
    assert "1 added, 1 already present, 1 refused" in result.stdout
    assert f"refused: {page}: not a feed (looks like an HTML page)" in result.stdout

    code, out, _ = run_in_process(cli, "export")
    assert code == 0
    assert [f.url for f in parse_opml(out.encode())] == [world, sport]

    with pytest.raises(SystemExit) as usage:
        main(["feeds"])
    assert usage.value.code == 2


def test_feeds_commands_in_process(cli: Cli) -> None:
    world, sport, page = (cli.feeds.url(p) for p in ("/world.xml", "/sport.xml", "/page.html"))
    code, out, _ = run_in_process(cli, "list")
    assert code == 0 and "No feeds yet" in out
    assert run_in_process(cli, "add", world)[0] == 0
    assert run_in_process(cli, "add", sport)[0] == 0

    code, _, err = run_in_process(cli, "add", "world.xml")
    assert code == 2 and err.startswith("newsbot: “world.xml” is not a feed address")
    code, _, err = run_in_process(cli, "add", page)
    assert code == 1 and err.strip() == (
        "newsbot: can't use that feed: not a feed (looks like an HTML page)"
    )
    code, _, err = run_in_process(cli, "import", str(cli.tmp / "nope.opml"))
    assert code == 2 and "no such file" in err
    (cli.tmp / "notes.txt").write_text("just some notes")
    code, _, err = run_in_process(cli, "import", str(cli.tmp / "notes.txt"))
    assert code == 2 and "not an OPML file" in err

    code, out, _ = run_in_process(cli, "list")
    assert code == 0
    assert "1. World Wire [ok]" in out and "2. Sport Desk [ok]" in out
    assert "3 entries stored" in out

    code, _, err = run_in_process(cli, "remove", "9")
    assert code == 2 and "there is no feed number 9 (the list has 2 feeds)" in err
    code, out, _ = run_in_process(cli, "remove", "1")
    assert code == 0 and "removed World Wire" in out
    code, out, _ = run_in_process(cli, "remove", sport)
    assert code == 0 and "removed Sport Desk" in out
    assert cli.db("select count(*) from feed") == [(0,)]
    assert cli.db("select count(*) from entry") == [(0,)]
