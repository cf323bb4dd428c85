"""`newsbot feeds list|add|remove|import|export`: manage the watched feeds."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Settings

HELP = "list, add, remove, import or export the watched feeds"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand and its actions."""
    feeds = sub.add_parser("feeds", help=HELP)
    actions = feeds.add_subparsers(dest="feeds_action", metavar="ACTION", required=True)
    actions.add_parser("list", help="each feed with its health")
    add = actions.add_parser("add", help="check a feed and add it (its entries count as seen)")
    add.add_argument("target", metavar="URL")
    remove = actions.add_parser("remove", help="remove a feed and its stored entries")
    remove.add_argument("target", metavar="URL_OR_NUMBER", help="URL, or number from `list`")
    imp = actions.add_parser(
        "import", help="add every feed of an OPML file (exit 1 if any refused)"
    )
    imp.add_argument("target", metavar="FILE.opml")
    actions.add_parser("export", help="write the feeds as OPML to standard output")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one action against the database in DATABASE_URL."""
    from bot.services.feed_admin import run_feeds

    return asyncio.run(
        run_feeds(
            settings=settings,
            action=args.feeds_action,
            arg=getattr(args, "target", None),
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    )
