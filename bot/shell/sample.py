"""The sample news source of `newsbot shell`: invented stories released on a schedule.

Without `FEEDS`, the watcher polls `SampleWire`, a news source shipped with the package that
releases an invented story every SAMPLE_INTERVAL_SECONDS, served through an HTTP transport of
its own to the real fetcher.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib import resources
from xml.sax.saxutils import escape, quoteattr

import httpx
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db.engine import session_scope
from bot.feeds.fetcher import ACCEPT_ENCODING
from bot.feeds.netguard import DEFAULT_POOL_LIMITS, GuardedTransport
from bot.ingest.topic_cache import TopicCache
from bot.topics import Document

log = logging.getLogger(__name__)

SAMPLE_HOST = "wire.newsbot.example"  # RFC 2606: .example never resolves
SAMPLE_FEED_URL = f"https://{SAMPLE_HOST}/feed.xml"
SAMPLE_INITIAL = 8  # stories already out at start, so /latest answers at once
SAMPLE_FEED_ITEMS = 30
SAMPLE_MAX_CATCH_UP = 3  # stories released at most per poll after a long pause
SAMPLE_BACKDATE = timedelta(minutes=9)  # spacing of the initial stories' times


@dataclass(frozen=True, slots=True)
class Story:
    """An invented story of the sample wire."""

    id: str
    section: str
    tags: tuple[str, ...]
    title: str
    summary: str
    body: tuple[str, ...]

    @property
    def categories(self) -> tuple[str, ...]:
        return (self.section, *self.tags)


@dataclass(frozen=True, slots=True)
class Release:
    story: Story
    cycle: int
    at: datetime

    @property
    def slug(self) -> str:
        return self.story.id if self.cycle == 0 else f"{self.story.id}-{self.cycle + 1}"

    @property
    def link(self) -> str:
        return f"https://{SAMPLE_HOST}/stories/{self.slug}"


def load_stories() -> tuple[str, list[Story]]:
    """Return the sample wire's name and its stories (package data)."""
    raw = json.loads(resources.files("bot").joinpath("data/sample-stories.json").read_text("utf-8"))
    stories = [
        Story(
            id=s["id"],
            section=s["section"],
            tags=tuple(s.get("tags", ())),
            title=s["title"],
            summary=s["summary"],
            body=tuple(s["body"]),
        )
        for s in raw["stories"]
    ]
    return str(raw["source"]), stories


Preference = Callable[[Sequence[Story]], Story | None]


class SampleWire:
    """Release one story every `interval` seconds; serve them as RSS and article pages.

    `prefer`, given the stories not yet released in this cycle, may pick the next one (the
    shell picks stories matching a topic someone follows); otherwise they go out in order.
    After the last story the wire starts over with new guids and links.
    """

    def __init__(
        self,
        *,
        name: str,
        stories: Sequence[Story],
        interval: float,
        prefer: Preference | None = None,
        clock: Callable[[], float] = time.time,
        initial: int = SAMPLE_INITIAL,
    ) -> None:
        if not stories:
            raise ValueError("the sample wire needs stories")
        self.name = name
        self.stories = list(stories)
        self.interval = interval
        self.prefer = prefer
        self.clock = clock
        self.cycle = 0
        self.pending = list(self.stories)
        self.released: list[Release] = []
        self._lock = threading.Lock()
        self._started = clock()
        self._ticks = 0
        start = datetime.fromtimestamp(self._started, UTC)
        for n in range(min(initial, len(self.stories))):
            self._release(self.pending[0], at=start - SAMPLE_BACKDATE * (initial - n))

    def _release(self, story: Story, *, at: datetime) -> None:
        self.pending.remove(story)
        self.released.append(Release(story=story, cycle=self.cycle, at=at))
        if not self.pending:
            self.cycle += 1
            self.pending = list(self.stories)

    def advance(self) -> int:
        """Release the stories that are due now; return how many."""
        with self._lock:
            due = int((self.clock() - self._started) // self.interval)
            if due - self._ticks > SAMPLE_MAX_CATCH_UP:
                self._ticks = due - SAMPLE_MAX_CATCH_UP
            count = 0
            while self._ticks < due:
                self._ticks += 1
                story = self._pick()
                self._release(story, at=datetime.fromtimestamp(self.clock(), UTC))
                count += 1
            return count

    def _pick(self) -> Story:
        if self.prefer is not None:
            try:
                chosen = self.prefer(list(self.pending))
            except Exception:  # a demo must keep going
                log.warning("sample wire: choosing a story failed", exc_info=True)
                chosen = None
            if chosen is not None and chosen in self.pending:
                return chosen
        return self.pending[0]

    def etag(self) -> str:
        """Return the feed's current entity tag."""
        with self._lock:
            return f'"{self.cycle}-{len(self.released)}"'

    def feed_xml(self) -> bytes:
        """Return the newest stories as an RSS 2.0 document."""
        with self._lock:
            # Oldest first: stories stored in one batch share a time, and the last one
            # stored is taken for the newest.
            recent = self.released[-SAMPLE_FEED_ITEMS:]
        items = []
        for release in recent:
            story = release.story
            categories = "".join(f"<category>{escape(c)}</category>" for c in story.categories)
            items.append(
                "<item>"
                f"<title>{escape(story.title)}</title>"
                f"<link>{escape(release.link)}</link>"
                f'<guid isPermaLink="false">{escape(release.slug)}</guid>'
                f"<pubDate>{format_datetime(release.at, usegmt=True)}</pubDate>"
                f"<description>{escape(story.summary)}</description>"
                f"{categories}"
                "</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(self.name)}</title>"
            f"<link>https://{SAMPLE_HOST}/</link>"
            "<description>Invented stories for trying newsbot</description>"
            f"{''.join(items)}</channel></rss>"
        ).encode()

    def page(self, slug: str) -> bytes | None:
        """Return the article page of a released story, or None."""
        with self._lock:
            release = next((r for r in self.released if r.slug == slug), None)
        if release is None:
            return None
        story = release.story
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in story.body)
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{escape(story.title)} | {escape(self.name)}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href={quoteattr('/' + story.section.lower())}>"
            f"{escape(story.section)}</a></nav>"
            f"<article><h1>{escape(story.title)}</h1>{paragraphs}</article>"
            f"<footer>{escape(self.name)}: invented stories for trying newsbot.</footer>"
            "</body></html>"
        ).encode()


class SampleTransport(httpx.AsyncBaseTransport):
    """Serve the sample wire's host in-process; send every other request on to `fallback`."""

    def __init__(self, wire: SampleWire, *, fallback: httpx.AsyncBaseTransport) -> None:
        self.wire = wire
        self.fallback = fallback

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request for the sample host, or forward it."""
        if request.url.host != SAMPLE_HOST:
            return await self.fallback.handle_async_request(request)
        await asyncio.to_thread(self.wire.advance)
        path = request.url.path
        if path == "/feed.xml":
            etag = self.wire.etag()
            if request.headers.get("if-none-match") == etag:
                return _response(304, b"", {"ETag": etag})
            rss = "application/rss+xml; charset=utf-8"
            return _response(200, self.wire.feed_xml(), {"Content-Type": rss, "ETag": etag})
        if path.startswith("/stories/"):
            page = self.wire.page(path.removeprefix("/stories/"))
            if page is not None:
                return _response(200, page, {"Content-Type": "text/html; charset=utf-8"})
        return _response(404, b"not found", {"Content-Type": "text/plain"})

    async def aclose(self) -> None:
        """Close the fallback transport."""
        await self.fallback.aclose()


def _response(status: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # A stream, not `content=`: the fetcher streams the body to enforce its size limit.
    headers = {**headers, "Content-Length": str(len(body))}
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


def sample_client(wire: SampleWire, settings: Settings) -> httpx.AsyncClient:
    """Return the watcher's HTTP client: the sample host in-process, the rest as usual."""
    from bot.ingest.workers import fetch_limits

    limits = fetch_limits(settings)
    fallback: httpx.AsyncBaseTransport = (
        httpx.AsyncHTTPTransport(limits=DEFAULT_POOL_LIMITS)
        if settings.allow_private_networks
        else GuardedTransport()
    )
    return httpx.AsyncClient(
        transport=SampleTransport(wire, fallback=fallback),
        timeout=httpx.Timeout(limits.timeout_seconds),
        follow_redirects=False,
        headers={"User-Agent": limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        trust_env=False,
    )


def followed_topics_first(engine: Engine) -> Preference:
    """Prefer stories matching a followed topic, taking the topics in turn."""
    topics = TopicCache()
    served: dict[int, int] = {}
    turns = itertools.count()

    def prefer(candidates: Sequence[Story]) -> Story | None:
        # A story about the topic (headline, section) beats one that mentions it.
        docs = [
            Document.from_fields(title=story.title, summary="", categories=story.categories)
            for story in candidates
        ] + [
            Document.from_fields(
                title=story.title,
                summary=f"{story.summary}\n{' '.join(story.body)}",
                categories=story.categories,
            )
            for story in candidates
        ]
        with session_scope(engine) as session:
            found = topics.match_all(session=session, docs=docs)
        if not len(topics):
            return None
        best: tuple[tuple[int, int], Story, set[int]] | None = None
        for n, story in enumerate(candidates):
            about = found[n]
            matched = about or found[len(candidates) + n]
            if not matched:
                continue
            score = (min(served.get(t, -1) for t in matched), 0 if about else 1)
            if best is None or score < best[0]:
                best = (score, story, matched)
        if best is None:
            return None
        turn = next(turns)
        for topic_id in best[2]:
            served[topic_id] = turn
        return best[1]

    return prefer
