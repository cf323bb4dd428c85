"""`newsbot summarize`: the summary of article files (HTML or text), or of JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.cli.common import fail
from bot.config import Settings

STDIN_NAME = "-"
HELP = "print the summary of article files (HTML or text)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    summ = sub.add_parser("summarize", help=HELP)
    summ.add_argument(
        "files", nargs="*", metavar="FILE", help="article files to summarize (none or -: stdin)"
    )
    summ.add_argument(
        "--jsonl",
        action="store_true",
        help='read {"id", "text"|"html", "title"?, "url"?} JSON lines from standard input '
        'and write {"id", "summary"} lines',
    )
    summ.add_argument("--max-chars", type=int, default=None, help="summary budget (characters)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Summarize article files or JSON lines."""
    max_chars = args.max_chars if args.max_chars is not None else settings.summary_max_chars
    if not 80 <= max_chars <= 2000:
        return fail("--max-chars must be between 80 and 2000")
    return run_summarize(
        files=list(args.files),
        jsonl=bool(args.jsonl),
        stdin=sys.stdin,
        stdout=sys.stdout,
        stderr=sys.stderr,
        max_chars=max_chars,
    )


class BadRecord(ValueError):
    """A JSON line that can't be summarized; the message says why."""

    def __init__(self, reason: str, *, record_id: str | int | None = None) -> None:
        super().__init__(reason)
        self.record_id = record_id


@dataclass(frozen=True)
class Record:
    """One article to summarize from a JSON line."""

    id: str | int | None
    text: str | None
    html: str | None
    title: str | None
    url: str | None


def summarize_document(
    content: str, *, title: str | None = None, url: str | None = None, max_chars: int
) -> str:
    """Summarize content as HTML when it looks like markup, else as plain text."""
    # Imported here: the summarizers load trafilatura, which `newsbot --help` has no use for.
    from bot.summaries.extract import looks_like_html
    from bot.summaries.extractive import summarize_html, summarize_text

    if looks_like_html(content):
        return summarize_html(content, title=title, url=url, max_chars=max_chars)
    return summarize_text(content, title=title, max_chars=max_chars)


def _read_file(name: str, stdin: TextIO) -> str:
    """Read an article file ("-" is standard input); raise OSError when it can't be read."""
    if name == STDIN_NAME:
        return stdin.read()
    data = Path(name).read_bytes()
    # Pages come in many encodings; a wrong byte must not lose the whole article.
    return data.decode("utf-8", errors="replace")


def _reason(exc: OSError) -> str:
    """Return the human part of an OS error, without Python's decoration."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "it is a directory"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def _run_files(
    files: list[str], *, stdin: TextIO, stdout: TextIO, stderr: TextIO, max_chars: int
) -> int:
    """Print the summary of each file; return 1 if any file could not be read."""
    status = 0
    names = files or [STDIN_NAME]
    for position, name in enumerate(names):
        if len(names) > 1:
            separator = "\n" if position else ""
            stdout.write(f"{separator}==> {name} <==\n")
        try:
            content = _read_file(name, stdin)
        except OSError as exc:
            stderr.write(f"summarize: cannot read {name}: {_reason(exc)}\n")
            status = 1
            continue
        try:
            summary = summarize_document(content, max_chars=max_chars)
        except Exception as exc:  # one bad article must not stop the others
            stderr.write(f"summarize: {name}: could not summarize: {exc}\n")
            status = 1
            continue
        if not summary:
            stderr.write(f"summarize: {name}: no story text found\n")
        stdout.write(f"{summary}\n")
        stdout.flush()
    return status


def _optional_str(data: dict[str, Any], key: str, record_id: str | int) -> str | None:
    """Return data[key] if it is a string or missing/null; raise BadRecord otherwise."""
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadRecord(f'"{key}" must be a string', record_id=record_id)


def parse_record(line: str) -> Record:
    """Parse one JSON line into a Record; raise BadRecord with a clear reason."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise BadRecord("each line must be a JSON object")
    record_id = data.get("id")
    if record_id is None:
        raise BadRecord('missing "id"')
    if isinstance(record_id, bool) or not isinstance(record_id, str | int):
        raise BadRecord('"id" must be a string or a whole number')
    text = _optional_str(data, "text", record_id)
    html = _optional_str(data, "html", record_id)
    if text is not None and html is not None:
        raise BadRecord('give either "text" or "html", not both', record_id=record_id)
    if text is None and html is None:
        raise BadRecord('missing "text" or "html"', record_id=record_id)
    return Record(
        id=record_id,
        text=text,
        html=html,
        title=_optional_str(data, "title", record_id),
        url=_optional_str(data, "url", record_id),
    )


def _summarize_record(record: Record, *, max_chars: int) -> str:
    """Summarize one record's text or HTML."""
    from bot.summaries.extractive import summarize_html, summarize_text

    if record.html is not None:
        return summarize_html(record.html, title=record.title, url=record.url, max_chars=max_chars)
    return summarize_text(record.text or "", title=record.title, max_chars=max_chars)


def _run_jsonl(stdin: TextIO, *, stdout: TextIO, max_chars: int) -> int:
    """Answer each JSON line with a summary or an error line; return 1 if any line failed."""
    status = 0
    for line in stdin:
        if not line.strip():
            continue
        result: dict[str, Any]
        try:
            record = parse_record(line)
        except BadRecord as exc:
            result = {"id": exc.record_id, "error": str(exc)}
            status = 1
        else:
            try:
                result = {
                    "id": record.id,
                    "summary": _summarize_record(record, max_chars=max_chars),
                }
            except Exception as exc:  # one bad article must not stop the stream
                result = {"id": record.id, "error": f"could not summarize: {exc}"}
                status = 1
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        stdout.flush()
    return status


def run_summarize(
    *,
    files: list[str],
    jsonl: bool,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    max_chars: int,
) -> int:
    """Run the summarize command and return its exit code.

    Without files (or with "-") the article is read from stdin. The exit code is
    0 on success, 1 when a file could not be read or summarized or a JSON line
    was bad (the run still goes on), and 2 for unusable options.
    """
    if max_chars < 1:
        stderr.write(f"summarize: --max-chars must be positive, got {max_chars}\n")
        return 2
    if jsonl:
        if files:
            stderr.write("summarize: --jsonl reads standard input; give no files\n")
            return 2
        return _run_jsonl(stdin, stdout=stdout, max_chars=max_chars)
    return _run_files(files, stdin=stdin, stdout=stdout, stderr=stderr, max_chars=max_chars)
