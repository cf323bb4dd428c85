"""`newsbot feeds list|add|remove|import|export`: the feed use cases for the command line.

The command line parses its arguments and calls `run_feeds`; the work is `FeedManager`'s,
the same the chat commands use.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from bot.db import migrate
from bot.db.engine import make_engine
from bot.db.models import utcnow
from bot.feeds.identity import hide_credentials
from bot.feeds.opml import MAX_OPML_BYTES, OpmlError
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.services.feeds import (
    FeedInputError,
    FeedManager,
    FeedStatus,
    FeedUnusableError,
    ImportReport,
    ago,
    until,
)

EXIT_FAILED = 1
EXIT_USAGE = 2


def status_lines(statuses: list[FeedStatus], *, now: datetime) -> list[str]:
    """Return one block of text per feed for `newsbot feeds list`."""
    lines = []
    for s in statuses:
        lines.append(f"{s.number}. {s.name} [{s.health}]")
        lines.append(f"   {hide_credentials(s.url)}")
        lines.append(
            f"   last success {ago(s.last_success_at, now=now)}; "
            f"next poll {until(s.next_poll_at, now=now) if s.enabled else 'never (disabled)'}; "
            f"{s.entries} entries stored"
        )
        if s.error_count:
            lines.append(f"   {s.error_count} failures in a row; last error: {s.last_error}")
    return lines


def import_lines(report: ImportReport) -> list[str]:
    """Describe an import: the counts, then each refused feed with its reason."""
    lines = [
        f"{len(report.added)} added, {len(report.present)} already present, "
        f"{len(report.refused)} refused"
    ]
    lines += [
        f"added: {hide_credentials(a.url)} ({a.title}, {a.entries} entries)" for a in report.added
    ]
    lines += [hide_credentials(f"refused: {url}: {reason}") for url, reason in report.refused]
    return lines


def read_opml_file(path: str) -> bytes:
    """Read an OPML file; raise OpmlError when it can't be read or is too large."""
    file = Path(path)
    try:
        if file.stat().st_size > MAX_OPML_BYTES:
            raise OpmlError(f"{path}: the file is larger than {MAX_OPML_BYTES // 1024} KiB")
        return file.read_bytes()
    except FileNotFoundError:
        raise OpmlError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise OpmlError(f"{path}: is a directory") from None
    except OSError as err:
        raise OpmlError(f"{path}: can't read it: {err.strerror or err}") from None


async def run_feeds(
    *, settings: Settings, action: str, arg: str | None, stdout: TextIO, stderr: TextIO
) -> int:
    """Run one `newsbot feeds` action against the database in DATABASE_URL."""

    def fail(message: str, code: int) -> int:
        print(f"newsbot: {message}", file=stderr)
        return code

    data = b""
    if action == "import":
        try:
            data = read_opml_file(arg or "")
        except OpmlError as err:
            return fail(str(err), EXIT_USAGE)
    engine = make_engine(settings.database_url)
    watcher: FeedWatcher | None = None
    try:
        migrate.upgrade(engine)
        # One-off commands parse a feed or a few: threads start faster than worker processes.
        watcher = FeedWatcher(
            engine=engine, settings=settings, topics=TopicCache(), parse_in_processes=False
        )
        manager = FeedManager(watcher=watcher)
        if action == "list":
            statuses = await manager.statuses()
            if not statuses:
                print("No feeds yet. Add one with: newsbot feeds add URL", file=stdout)
            for line in status_lines(statuses, now=utcnow()):
                print(line, file=stdout)
            return 0
        if action == "add":
            added = await manager.add(arg or "")
            if added.status == "present":
                print(f"already on the list as #{added.number}: {added.url}", file=stdout)
            else:
                verb = "added" if added.status == "added" else "enabled again"
                print(
                    f"{verb} #{added.number}: {added.title} ({added.entries} entries, "
                    "stored as already seen)",
                    file=stdout,
                )
            return 0
        if action == "remove":
            removed = await manager.remove(arg or "")
            print(
                f"removed {removed.title} ({removed.url}) and {removed.entries} stored entries",
                file=stdout,
            )
            return 0
        if action == "import":
            report = await manager.import_opml(data)
            for line in import_lines(report):
                print(line, file=stdout)
            return EXIT_FAILED if report.refused else 0
        if action == "export":
            document, _ = await manager.export_opml()
            stdout.write(document)
            return 0
        return fail(f"unknown feeds action {action!r}", EXIT_USAGE)
    except (FeedInputError, OpmlError) as err:
        return fail(str(err), EXIT_USAGE)
    except FeedUnusableError as err:
        return fail(f"can't use that feed: {err}", EXIT_FAILED)
    finally:
        if watcher is not None:
            await watcher.aclose()
        engine.dispose()
