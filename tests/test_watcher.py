"""The poll service against a local feed server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import entries
from bot.db.engine import session_scope
from bot.db.models import Entry, Feed
from bot.delivery.render import Alert, render_alert
from tests.support.feed_server import FeedServer, rss
from tests.support.watcher import add_feed, deliveries, item, make_due, make_watcher, subscribe

PAGE = """<html><body><nav>Home | World | Sport</nav>
<p>Get the latest updates as we post them — right on your browser</p>
<article><h1>Glacier lake drained to protect valley towns</h1>
<p>Engineers in the Lorn valley drained a swelling glacier lake on Wednesday, lowering it by
four metres and easing the threat of a flood to three towns downstream.</p>
<p>The work took eleven days and used pumps flown in by helicopter, the regional office said.</p>
<p>Residents who had left their homes last week were told they could return on Friday.</p>
</article><footer>Follow us on social media</footer></body></html>"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


async def test_first_poll_is_history_then_new_entries_alert(
    engine: Engine, server: FeedServer
) -> None:
    items = [item(1, "Lorn valley braces for flood"), item(2, "Markets calm")]
    server.set("/f.xml", rss("Valley News", items))
    server.set("/page", PAGE, content_type="text/html; charset=utf-8")
    add_feed(engine, server.url("/f.xml"))
    for chat in (1, 2, 3):
        subscribe(engine, chat, "lorn valley")
    subscribe(engine, 4, "markets")
    watcher = make_watcher(engine)
    try:
        report = await watcher.poll_round()
        assert report.polled == 1 and report.failed == 0
        assert deliveries(engine) == []  # history alerts no one
        with session_scope(engine) as session:
            assert len(entries.latest_entries(session=session, limit=10)) == 2

        items.insert(0, item(3, "Glacier lake drained in Lorn valley", link=server.url("/page")))
        server.set("/f.xml", rss("Valley News", items))
        make_due(engine)
        report = await watcher.poll_round()
        assert report.new_entries == 1 and report.alerts_queued == 3
        title = "Glacier lake drained in Lorn valley"
        assert deliveries(engine) == [(1, title), (2, title), (3, title)]
        # Summarized once from the page, however many chats receive it.
        assert server.hits("/page") == 1
        with session_scope(engine) as session:
            entry = session.exec(select(Entry).where(Entry.title == title)).one()
        assert entry.summary.startswith("Engineers in the Lorn valley drained a swelling glacier")
        assert "Get the latest" not in entry.summary and "Follow us" not in entry.summary

        # Polling again finds nothing new: no second alert.
        make_due(engine)
        report = await watcher.poll_round()
        assert report.new_entries == 0
        assert len(deliveries(engine)) == 3
    finally:
        await watcher.aclose()


async def test_failing_feed_does_not_stop_others(engine: Engine, server: FeedServer) -> None:
    server.set("/good.xml", rss("Good", [item(1, "Old story")]))
    server.set("/broken.xml", "<html><body>Not a feed</body></html>", content_type="text/html")
    server.set("/down.xml", "oops", status=500)
    for path in ("/good.xml", "/broken.xml", "/down.xml"):
        add_feed(engine, server.url(path))
    subscribe(engine, 7, "harvest")
    watcher = make_watcher(engine, fetch_articles=False)
    try:
        report = await watcher.poll_round()
        assert report.failed == 2
        server.set("/good.xml", rss("Good", [item(2, "Record harvest"), item(1, "Old story")]))
        make_due(engine)
        await watcher.poll_round()
        assert deliveries(engine) == [(7, "Record harvest")]
        with session_scope(engine) as session:
            feeds = {f.url.rsplit("/", 1)[1]: f for f in session.exec(select(Feed))}
        assert feeds["down.xml"].error_count == 2 and "500" in (feeds["down.xml"].last_error or "")
        assert feeds["broken.xml"].last_error
        assert feeds["good.xml"].error_count == 0 and feeds["good.xml"].title == "Good"
    finally:
        await watcher.aclose()


async def test_same_story_in_two_feeds_alerts_once(engine: Engine, server: FeedServer) -> None:
    server.set("/a.xml", rss("A", []))
    server.set("/b.xml", rss("B", []))
    add_feed(engine, server.url("/a.xml"))
    add_feed(engine, server.url("/b.xml"))
    subscribe(engine, 5, "eclipse")
    watcher = make_watcher(engine, fetch_articles=False)
    try:
        await watcher.poll_round()
        story = {"link": "https://News.Example.org/eclipse?utm_source=x#top"}
        server.set("/a.xml", rss("A", [item(10, "Eclipse seen across the north", **story)]))
        server.set(
            "/b.xml",
            rss(
                "B",
                [
                    item(
                        11, "Eclipse seen across the north", link="https://news.example.org/eclipse"
                    )
                ],
            ),
        )
        make_due(engine)
        await watcher.poll_round()
        assert deliveries(engine) == [(5, "Eclipse seen across the north")]
    finally:
        await watcher.aclose()


class _LlmStandIn(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, str]]] = []
    calls: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **body}
        )
        status, content = type(self).answers.pop(0) if type(self).answers else (500, "")
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


async def test_llm_summaries_with_fallback(sqlite_engine: Engine, server: FeedServer) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _LlmStandIn)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _LlmStandIn.calls = []
    _LlmStandIn.answers = [(200, "Engineers drained the glacier lake. Towns are safe again.")]
    engine = sqlite_engine
    story = (
        "<p>" + "Engineers in the Lorn valley drained a glacier lake on Wednesday. " * 3 + "</p>"
    )
    full = "".join(
        f"<p>Paragraph {i}: the pumps ran day and night for the valley.</p>" for i in range(6)
    )
    server.set("/f.xml", rss("V", []))
    add_feed(engine, server.url("/f.xml"))
    subscribe(engine, 1, "lorn")
    watcher = make_watcher(
        engine,
        summarizer="llm",
        llm_base_url=f"http://127.0.0.1:{httpd.server_port}/v1",
        llm_api_key="sk-test-secret",
        llm_model="tiny-news",
        fetch_articles=False,
    )
    try:
        await watcher.poll_round()
        server.set(
            "/f.xml",
            rss(
                "V",
                [
                    item(1, "Lorn lake drained", description=story, content_encoded=story + full),
                    item(2, "Lorn towns reopen", description="Residents of Lorn may return home."),
                ],
            ),
        )
        make_due(engine)
        await watcher.poll_round()
        with session_scope(engine) as session:
            by_title = {e.title: e.summary for e in session.exec(select(Entry))}
        assert by_title["Lorn lake drained"] == (
            "Engineers drained the glacier lake. Towns are safe again."
        )
        # The second story had no full text and no page fetch: the feed's blurb, extractive.
        assert by_title["Lorn towns reopen"] == "Residents of Lorn may return home."
        assert _LlmStandIn.calls[0]["model"] == "tiny-news"
        assert _LlmStandIn.calls[0]["auth"] == "Bearer sk-test-secret"
        assert _LlmStandIn.calls[0]["path"].endswith("/chat/completions")

        # The endpoint fails: the extractive summary is used, nothing is lost.
        _LlmStandIn.answers = [(500, "")]
        server.set(
            "/f.xml",
            rss(
                "V", [item(3, "Lorn pumps return", description=story, content_encoded=story + full)]
            ),
        )
        make_due(engine)
        await watcher.poll_round()
        with session_scope(engine) as session:
            summary = session.exec(
                select(Entry.summary).where(Entry.title == "Lorn pumps return")
            ).one()
        assert summary.startswith("Engineers in the Lorn valley drained a glacier lake")
    finally:
        await watcher.aclose()
        httpd.shutdown()


SEED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "seed-article.txt"


@pytest.mark.skipif(not SEED.exists(), reason=f"{SEED} is not present")
async def test_seed_article_alert(sqlite_engine: Engine, server: FeedServer) -> None:
    engine = sqlite_engine
    server.set("/f.xml", rss("Wire", []))
    server.set("/seed", SEED.read_bytes(), content_type="text/plain; charset=utf-8")
    add_feed(engine, server.url("/f.xml"))
    subscribe(engine, 1, "kosovo")
    watcher = make_watcher(engine)
    try:
        await watcher.poll_round()
        server.set(
            "/f.xml",
            rss("Wire", [item(1, "UN Sent Draft for Peace in Kosovo", link=server.url("/seed"))]),
        )
        make_due(engine)
        await watcher.poll_round()
        with session_scope(engine) as session:
            entry = session.exec(select(Entry).where(Entry.key == "guid:s-1")).one()
        text = render_alert(
            Alert(
                title=entry.title,
                summary=entry.summary,
                link=entry.link,
                source="Wire",
                published=entry.published_at,
            )
        )
        body = text.split("\n\n")[1]
        assert body.startswith("The West and Russia reached a landmark accord")
        for clutter in ("Get the latest", "Last Updated", "COLOGNE", "UN Sent Draft"):
            assert clutter not in body
        assert deliveries(engine) == [(1, "UN Sent Draft for Peace in Kosovo")]
    finally:
        await watcher.aclose()
