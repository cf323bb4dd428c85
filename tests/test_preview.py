"""`newsbot preview`: the alerts a feed would produce, without Telegram or a database."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.preview import alert_text, run_preview
from bot.config import get_settings
from bot.delivery.render import Alert
from bot.feeds.parser import parse_feed
from bot.services.preview import newest_entries
from tests.support.feed_server import FeedServer, rss
from tests.support.watcher import item

ROOT = Path(__file__).resolve().parents[1]


def harbour_items(count: int) -> list[dict[str, object]]:
    return [
        item(
            n,
            f"Harbour update {n}: cranes <back> & running",
            description=f"Port Ellis reopened berth {n} on Friday. Ships queued since dawn.",
            pub_date=datetime(2026, 11, 20 + n % 7, 8, n, tzinfo=UTC),
        )
        for n in range(1, count + 1)
    ]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        fs.set("/harbour.xml", rss("Harbour Times", harbour_items(8)))
        fs.set("/page.html", "<html><body>Just a page</body></html>", content_type="text/html")
        yield fs


def test_alert_text_is_readable() -> None:
    text = alert_text(
        Alert(
            title="Cranes <back> & running",
            summary="Port Ellis reopened its berths.",
            link="https://news.example.org/s/1?a=1&b=2",
            source="Harbour Times",
            published=datetime(2026, 11, 27, 8, 5, tzinfo=UTC),
        )
    )
    assert text.splitlines() == [
        "Cranes <back> & running",
        "",
        "Port Ellis reopened its berths.",
        "",
        "Harbour Times · 27 Nov 2026, 08:05 UTC",
        "Read the full story: https://news.example.org/s/1?a=1&b=2",
    ]


def test_newest_entries_by_date_else_feed_order() -> None:
    parsed = parse_feed(rss("T", harbour_items(8)).encode(), url="https://example.org/")
    newest = newest_entries(parsed.entries, 5)
    dates = [e.published for e in newest]
    assert len(newest) == 5 and dates == sorted(dates, reverse=True)
    undated = parse_feed(
        rss("T", [{"title": f"Story {n}", "guid": str(n)} for n in range(7)]).encode(),
        url="https://example.org/",
    )
    assert [e.title for e in newest_entries(undated.entries, 5)] == [f"Story {n}" for n in range(5)]


async def test_preview_urls_and_files_in_process(server: FeedServer, tmp_path: Path) -> None:
    file = tmp_path / "local.xml"
    file.write_text(rss("Local Paper", [item(40, "Library opens late on Thursdays")]))
    settings = get_settings(allow_private_networks=True, fetch_articles=False)
    out, err = io.StringIO(), io.StringIO()
    code = await run_preview(
        settings=settings,
        sources=[server.url("/harbour.xml"), str(file), server.url("/page.html")],
        stdout=out,
        stderr=err,
    )
    assert code == 1
    text = out.getvalue()
    assert text.count("[") >= 6
    assert "== Harbour Times" in text and "8 entries; the newest 5 would alert as:" in text
    assert "[5] " in text and "[6] " not in text.split("== Local Paper")[0]
    assert "Harbour update 6: cranes <back> & running" in text  # newest by date
    assert "Port Ellis reopened berth 6 on Friday." in text
    assert "Read the full story: https://news.example.org/s/6" in text
    assert "== Local Paper" in text and "Library opens late on Thursdays" in text
    assert err.getvalue().splitlines() == [
        f"newsbot: {server.url('/page.html')}: can't be used: not a feed (looks like an HTML page)",
        "newsbot: 1 of 3 feeds can't be used",
    ]


def test_preview_command(server: FeedServer, tmp_path: Path) -> None:
    db = tmp_path / "untouched.db"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"FEEDS", "TELEGRAM_BOT_TOKEN"}},
        "DATABASE_URL": f"sqlite:///{db}",
        "ALLOW_PRIVATE_NETWORKS": "false",  # the guard is on: a local server is refused
        "FETCH_ARTICLES": "false",
        "PYTHONPATH": str(ROOT),
    }
    good = tmp_path / "harbour.xml"
    good.write_text(rss("Harbour Times", harbour_items(3)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "preview",
            str(good),
            server.url("/harbour.xml"),
            str(tmp_path / "missing.xml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "3 entries; the newest 3 would alert as:" in result.stdout
    assert "Harbour update 3: cranes <back> & running" in result.stdout
    errors = result.stderr.splitlines()
    assert errors == [
        f"newsbot: {server.url('/harbour.xml')}: can't be used: "
        "refused: 127.0.0.1 is a loopback address",
        f"newsbot: {tmp_path / 'missing.xml'}: can't be used: "
        "no such file (give a file path or an http(s) URL)",
        "newsbot: 2 of 3 feeds can't be used",
    ]
    assert server.hits("/harbour.xml") == 0
    assert not db.exists()  # nothing written, not even a schema
