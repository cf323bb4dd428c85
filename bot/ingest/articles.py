"""Summarize new stories, fetching article pages without holding up any feed.

Page fetches have a pool of their own (feed polls never wait for a free slot behind them),
count against the per-host limit like feed fetches do, and each story has a deadline: past
it, the story goes out summarized from the feed's own description. Extraction and summaries
go to the CPU workers a few jobs at a time, so a feed with hundreds of new stories never
queues other feeds' parsing behind its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from bot.config import Settings
from bot.feeds.fetcher import HTML_ACCEPT, FetchError, FetchLimits, FetchResult, fetch
from bot.feeds.identity import host_of
from bot.feeds.parser import ParsedEntry
from bot.summaries import (
    LlmSummarizer,
    extract_main_text,
    has_full_story,
    prefer_description,
    summarize_text,
)

if TYPE_CHECKING:
    from bot.ingest.workers import CpuPool, HostSlots

log = logging.getLogger(__name__)

T = TypeVar("T")

# Extracts the main text of a page (body, url); the caller decides where that CPU work runs.
Extract = Callable[[str, str], Awaitable[str | None]]


class ArticlePages:
    """Fetch an article page and extract its main text, within a deadline."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        limits: FetchLimits,
        hosts: HostSlots,
        pool_size: int,
        deadline_seconds: float,
    ) -> None:
        self.client = client
        self.limits = limits
        self.hosts = hosts
        self.deadline_seconds = deadline_seconds
        self._pool = asyncio.Semaphore(pool_size)

    async def main_text(
        self, url: str, *, extract: Extract, log_extra: dict[str, object]
    ) -> str | None:
        """Return the page's main text, or None when it can't be had within the deadline."""
        host = host_of(url)
        try:
            async with asyncio.timeout(self.deadline_seconds):
                return await self._fetch_text(url, host, extract)
        except TimeoutError:
            log.info(
                "article page on %s not ready within %.0f s; using the feed's description",
                host,
                self.deadline_seconds,
                extra=log_extra,
            )
        except FetchError as err:
            log.info("article page on %s not used: %s", host, err, extra=log_extra)
        except Exception:
            log.exception("extracting a page from %s failed", host, extra=log_extra)
        return None

    async def _fetch_text(self, url: str, host: str, extract: Extract) -> str | None:
        # The host slot first, as for feeds: pages queued behind a busy host hold no slot
        # of the pool that pages of other hosts need.
        async with self.hosts.hold(host), self._pool:
            page = await fetch(self.client, url, limits=self.limits, accept=HTML_ACCEPT)
        body = page.body.decode(charset(page), errors="replace")
        return await extract(body, page.url)


def llm_summarizer(settings: Settings) -> LlmSummarizer | None:
    """Return the abstractive summarizer when SUMMARIZER=llm, else None."""
    if settings.summarizer != "llm":
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmSummarizer(
        base_url=settings.llm_base_url,
        api_key=key,
        model=settings.llm_model,
        timeout_seconds=settings.llm_timeout_seconds,
        max_concurrency=settings.llm_max_concurrency,
    )


class StorySummarizer:
    """Summarize a new story once: from the feed's text, the article page or the blurb."""

    def __init__(
        self,
        *,
        settings: Settings,
        pages: ArticlePages,
        cpu: CpuPool | None = None,
        cpu_jobs: int = 2,
    ) -> None:
        self.settings = settings
        self.pages = pages
        self.max_chars = settings.summary_max_chars
        self.llm = llm_summarizer(settings)
        self._cpu = cpu
        # `cpu_jobs` summary jobs in the workers at a time (one per worker): feed parsing
        # waits behind at most these, however many stories a feed brings at once.
        self._cpu_slots = asyncio.Semaphore(max(1, cpu_jobs))

    async def compute(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Return fn(*args, **kwargs), computed in a worker when there are any."""
        async with self._cpu_slots:
            if self._cpu is not None:
                return await self._cpu.run(fn, *args, **kwargs)
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def aclose(self) -> None:
        """Close the LLM client, if any."""
        if self.llm is not None:
            await self.llm.aclose()

    async def summarize(self, entry: ParsedEntry, *, feed_id: int | None = None) -> str:
        """Summarize the feed's own story, else the article page, else the blurb."""
        text = await self._story_text(entry, feed_id)
        summary = await self._condense(text, entry.title) if text else ""
        if summary and self.llm is not None:
            return summary
        # A clean, complete blurb beats an extraction that opens elsewhere or came out empty.
        return await self.compute(
            prefer_description,
            summary,
            description=entry.summary,
            title=entry.title,
            max_chars=self.max_chars,
        )

    async def _story_text(self, entry: ParsedEntry, feed_id: int | None) -> str | None:
        """Return the story's main text: from the feed when it carries it, else from the page."""
        if has_full_story(content_html=entry.content_html, description=entry.summary):
            source = entry.content_html or entry.summary
            return await self.compute(extract_main_text, source, url=entry.link)
        if not (self.settings.fetch_articles and entry.link):
            return None
        return await self.pages.main_text(
            entry.link, extract=self._extract, log_extra={"feed": feed_id, "entry": entry.key}
        )

    async def _extract(self, body: str, url: str) -> str | None:
        return await self.compute(extract_main_text, body, url=url)

    async def _condense(self, text: str, title: str) -> str:
        if self.llm is not None:
            return await self.llm.summarize(text=text, title=title, max_chars=self.max_chars)
        return await self.compute(summarize_text, text, title=title, max_chars=self.max_chars)


def charset(result: FetchResult) -> str:
    """Return the charset the response declares, if Python knows it, else UTF-8."""
    ctype = result.headers.get("content-type", "")
    for part in ctype.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                "".encode(value.strip("\"'"))
                return value.strip("\"'")
            except LookupError:
                break
    return "utf-8"
