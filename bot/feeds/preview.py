"""Show the alerts a feed's newest entries would produce, without Telegram or a database."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from bot.delivery.render import Alert, render_alert
from bot.feeds.fetcher import FetchError, build_client, fetch
from bot.feeds.parser import FeedParseError, ParsedEntry, parse_feed
from bot.ingest.articles import ArticlePages, StorySummarizer
from bot.ingest.watcher import PER_HOST_FETCHES, HostSlots, fetch_limits

PREVIEW_ENTRIES = 5

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


class PreviewError(Exception):
    """The source can't be previewed; str() says why in one line."""


@dataclass(frozen=True, slots=True)
class FeedPreview:
    """A feed's title, its entry count and the alerts of its newest entries."""

    source: str
    title: str
    entries: int
    alerts: tuple[Alert, ...]


def is_url(source: str) -> bool:
    """Tell a URL ("scheme://...") from a file path."""
    return bool(_SCHEME.match(source))


def newest_entries(entries: tuple[ParsedEntry, ...], count: int) -> list[ParsedEntry]:
    """Return the `count` newest entries: by date when every entry has one, else feed order."""
    if entries and all(e.published is not None for e in entries):
        ordered = sorted(entries, key=lambda e: e.published or datetime.min, reverse=True)
        return ordered[:count]
    return list(entries[:count])


def alert_text(alert: Alert) -> str:
    """Return the alert as the plain text a chat would display, links spelled out."""
    rendered = render_alert(alert)
    with_links = _LINK.sub(lambda m: f"{m.group(2)}: {html.unescape(m.group(1))}", rendered)
    return html.unescape(_TAG.sub("", with_links)).strip()


def read_feed_file(path: str, *, max_bytes: int) -> tuple[bytes, str]:
    """Read a feed file within the size limit and return it with its file:// URL.

    Raise PreviewError with the reason when it can't be read.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise PreviewError("is a directory, not a feed file")
        if size > max_bytes:
            raise PreviewError(f"file is larger than FETCH_MAX_BYTES ({max_bytes} bytes)")
        return file.read_bytes(), file.resolve().as_uri()
    except FileNotFoundError:
        raise PreviewError("no such file (give a file path or an http(s) URL)") from None
    except OSError as err:
        raise PreviewError(f"can't read it: {err.strerror or err}") from None


class Previewer:
    """Fetch or read feeds and build their alerts as the watcher would."""

    def __init__(self, *, settings: Settings) -> None:
        self.settings = settings
        self.limits = fetch_limits(settings)
        self.client = build_client(
            allow_private_networks=settings.allow_private_networks, limits=self.limits
        )
        pages = ArticlePages(
            client=self.client,
            limits=self.limits,
            hosts=HostSlots(PER_HOST_FETCHES),
            pool_size=settings.fetch_concurrency,
            deadline_seconds=settings.article_deadline_seconds,
        )
        self.summarizer = StorySummarizer(settings=settings, pages=pages)

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self.client.aclose()
        await self.summarizer.aclose()

    async def preview(self, source: str) -> FeedPreview:
        """Return the preview of a feed URL or file; raise PreviewError when it can't be used."""
        if is_url(source):
            try:
                result = await fetch(self.client, source, limits=self.limits)
            except FetchError as err:
                raise PreviewError(str(err)) from None
            body, url, headers = result.body, result.url, result.headers
        else:
            body, url = await asyncio.to_thread(
                read_feed_file, source, max_bytes=self.settings.fetch_max_bytes
            )
            headers = {}
        try:
            parsed = await asyncio.to_thread(parse_feed, body, url=url, headers=headers)
        except FeedParseError as err:
            raise PreviewError(str(err)) from None
        chosen = newest_entries(parsed.entries, PREVIEW_ENTRIES)
        summaries = await asyncio.gather(*(self.summarizer.summarize(e) for e in chosen))
        title = parsed.title or source
        alerts = tuple(
            Alert(
                title=e.title,
                summary=summary,
                link=e.link,
                source=title,
                published=e.published,
            )
            for e, summary in zip(chosen, summaries, strict=True)
        )
        return FeedPreview(source=source, title=title, entries=len(parsed.entries), alerts=alerts)


def format_preview(preview: FeedPreview) -> str:
    """Return a feed's preview as readable text."""
    shown = len(preview.alerts)
    lines = [
        f"== {preview.title} ({preview.source})",
        f"{preview.entries} entries; the newest {shown} would alert as:"
        if shown
        else f"{preview.entries} entries; nothing to alert.",
    ]
    for n, alert in enumerate(preview.alerts, start=1):
        first, *rest = alert_text(alert).splitlines()
        lines.append(f"\n[{n}] {first}")
        lines += [f"    {line}" if line else "" for line in rest]
    return "\n".join(lines) + "\n"


async def run_preview(
    *, settings: Settings, sources: list[str], stdout: TextIO, stderr: TextIO
) -> int:
    """Print the preview of each source; return 1 when any can't be used, else 0."""
    previewer = Previewer(settings=settings)
    failed = 0
    try:
        for n, source in enumerate(sources):
            try:
                preview = await previewer.preview(source)
            except PreviewError as err:
                failed += 1
                print(f"newsbot: {source}: can't be used: {err}", file=stderr)
                continue
            except Exception as err:  # never a traceback on the command line
                failed += 1
                print(f"newsbot: {source}: internal error ({type(err).__name__})", file=stderr)
                continue
            if n:
                stdout.write("\n")
            stdout.write(format_preview(preview))
    finally:
        await previewer.aclose()
    if failed:
        print(f"newsbot: {failed} of {len(sources)} feeds can't be used", file=stderr)
    return 1 if failed else 0
