"""`newsbot preview`: print the alerts a feed's newest entries would produce (no Telegram)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Settings

HELP = "print the alerts a feed's newest entries would produce (no Telegram)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    preview = sub.add_parser("preview", help=HELP)
    preview.add_argument("sources", nargs="+", metavar="URL_OR_FILE", help="feed URLs or files")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Print the alerts the feeds would produce."""
    from bot.feeds.preview import run_preview

    return asyncio.run(
        run_preview(
            settings=settings, sources=list(args.sources), stdout=sys.stdout, stderr=sys.stderr
        )
    )
