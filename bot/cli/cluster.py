"""`newsbot cluster --jsonl`: put JSON lines of reports into stories with the watcher's engine."""

from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.stories.engine import DEFAULT_WINDOW, Clusterer, Report, ReportId

if TYPE_CHECKING:
    from bot.config import Settings

STDIN_NAME = "-"
HELP = "group reports of the same event into stories, as the feed watcher does"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    cluster = sub.add_parser(
        "cluster",
        help=HELP,
        description='Read {"id", "title", "summary"?, "source", "published"} JSON lines in '
        'time order (published: ISO 8601, UTC if no offset) and write one {"id", "story"} '
        'line for each, "story" being the id of the story\'s first report. A bad line gets '
        '{"id", "error"} and the run goes on (exit status 1).',
    )
    cluster.add_argument(
        "--jsonl", action="store_true", required=True, help="read and write JSON lines"
    )
    cluster.add_argument(
        "file", nargs="?", metavar="FILE", help="JSON lines to read (none or -: standard input)"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Group JSON lines of reports into stories."""
    return run_cluster(source=args.file, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)


class BadLine(ValueError):
    """A JSON line that can't be placed; the message says why."""

    def __init__(self, reason: str, *, line_id: ReportId | None = None) -> None:
        super().__init__(reason)
        self.line_id = line_id


def _id(data: dict[str, Any]) -> str | int:
    """Return the line's id; raise BadLine if it is missing or of the wrong type."""
    if "id" not in data or data["id"] is None:
        raise BadLine('missing "id"')
    value = data["id"]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadLine('"id" must be a string or a whole number')
    return value


def _text(data: dict[str, Any], key: str, line_id: ReportId, *, required: bool) -> str | None:
    """Return data[key] as a string, None if optional and absent; raise BadLine otherwise."""
    value = data.get(key)
    if value is None:
        if required:
            raise BadLine(f'missing "{key}"', line_id=line_id)
        return None
    if not isinstance(value, str):
        raise BadLine(f'"{key}" must be a string', line_id=line_id)
    return value


def _published(value: str, line_id: ReportId) -> datetime:
    """Parse an ISO 8601 time; a time without an offset is taken as UTC."""
    try:
        when = datetime.fromisoformat(value.strip())
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadLine(
            f'"published" is not an ISO 8601 time: {value[:40]!r} (e.g. 2024-05-01T14:30:00Z)',
            line_id=line_id,
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_line(line: str) -> Report:
    """Parse one JSON line into a Report; raise BadLine with a clear reason."""
    try:
        data = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        raise BadLine(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise BadLine("invalid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise BadLine("each line must be a JSON object")
    line_id = _id(data)
    title = _text(data, "title", line_id, required=True) or ""
    if not title.strip():
        raise BadLine('"title" is empty', line_id=line_id)
    published = _text(data, "published", line_id, required=True) or ""
    return Report(
        id=line_id,
        title=title,
        published=_published(published, line_id),
        source=_text(data, "source", line_id, required=False) or "",
        summary=_text(data, "summary", line_id, required=False),
    )


@dataclass
class _Run:
    """One pass over JSON lines: the engine and the ids seen so far."""

    clusterer: Clusterer
    seen: set[ReportId]

    def answer(self, line: str) -> dict[str, Any]:
        """Return the output object for one line: its story, or an error."""
        try:
            report = parse_line(line)
        except BadLine as exc:
            return {"id": exc.line_id, "error": str(exc)}
        if report.id in self.seen:
            return {"id": report.id, "error": f'"id" {report.id!r} was already used'}
        self.seen.add(report.id)
        try:
            story = self.clusterer.assign(report)
        except Exception as exc:  # one odd line must not stop the stream
            return {"id": report.id, "error": f"could not place the report: {exc}"}
        return {"id": report.id, "story": story}


def _open(name: str, stdin: TextIO) -> TextIO:
    """Return the stream to read: a file, or standard input (as UTF-8, bad bytes replaced)."""
    if name != STDIN_NAME:
        return Path(name).open(encoding="utf-8", errors="replace")
    raw = getattr(stdin, "buffer", None)
    if raw is None:
        return stdin
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def run_cluster(
    *,
    source: str | None,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    window: timedelta = DEFAULT_WINDOW,
) -> int:
    """Write {"id", "story"} (or {"id", "error"}) for each JSON line and return the exit code.

    Lines come from the file source, or standard input when it is None or "-". The exit
    code is 0 when every line was placed, 1 when a line was bad (the run goes on) or the
    file could not be read.
    """
    name = source or STDIN_NAME
    try:
        stream = _open(name, stdin)
    except OSError as exc:
        stderr.write(f"cluster: cannot read {name}: {exc.strerror or exc}\n")
        return 1
    run = _Run(clusterer=Clusterer(window=window), seen=set())
    status = 0
    try:
        for line in stream:
            if not line.strip():
                continue
            result = run.answer(line)
            status |= "error" in result
            stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            stdout.flush()
    except OSError as exc:
        stderr.write(f"cluster: cannot read {name}: {exc.strerror or exc}\n")
        return 1
    finally:
        if name != STDIN_NAME:
            stream.close()
        elif stream is not stdin and isinstance(stream, io.TextIOWrapper):
            stream.detach()  # closing the wrapper would close the process's standard input
    return status
