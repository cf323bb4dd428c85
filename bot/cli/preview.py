"""`newsbot preview`: print the alerts a feed's newest entries would produce (no Telegram)."""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
from typing import TextIO

from bot.config import Settings
from bot.delivery.render import Alert, render_alert, visible_text
from bot.services.preview import FeedPreview, Previewer, PreviewError

HELP = "print the alerts a feed's newest entries would produce (no Telegram)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    preview = sub.add_parser("preview", help=HELP)
    preview.add_argument("sources", nargs="+", metavar="URL_OR_FILE", help="feed URLs or files")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the alerts the feeds would produce."""
    return asyncio.run(
        run_preview(
            settings=settings, sources=list(args.sources), stdout=sys.stdout, stderr=sys.stderr
        )
    )


_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)


def alert_text(alert: Alert) -> str:
    """Return the alert as the plain text a chat would display, links spelled out."""
    rendered = render_alert(alert)
    with_links = _LINK.sub(lambda m: f"{m.group(2)}: {html.unescape(m.group(1))}", rendered)
    return visible_text(with_links).strip()


def format_preview(preview: FeedPreview) -> str:
    """Return a feed's preview as readable text."""
    shown = len(preview.stories)
    lines = [
        f"== {preview.title} ({preview.source})",
        f"{preview.entries} entries; the newest {shown} would alert as:"
        if shown
        else f"{preview.entries} entries; nothing to alert.",
    ]
    for n, story in enumerate(preview.stories, start=1):
        alert = Alert(
            title=story.title,
            summary=story.summary,
            link=story.link,
            source=story.source,
            published=story.published,
        )
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
