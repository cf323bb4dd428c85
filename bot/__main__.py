"""Command line: `newsbot run`, `newsbot migrate`, `newsbot summarize`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings, SettingsError, get_settings

log = logging.getLogger("bot")

EXIT_USAGE = 2
DB_ERRORS = (SQLAlchemyError,)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="Breaking news alerts for Telegram: watches feeds, summarizes new stories "
        "and alerts the chats subscribed to a matching topic.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="apply migrations and run the bot (long polling)")
    sub.add_parser("migrate", help="apply pending database migrations and exit")
    summ = sub.add_parser("summarize", help="print the summary of article files (HTML or text)")
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
    return parser


def describe_db_error(err: Exception) -> str:
    """Explain a database failure in one line, without a traceback or a password."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if isinstance(err, ArgumentError | NoSuchModuleError):
        return f"DATABASE_URL is not a usable database URL ({err})"
    detail = str(getattr(err, "orig", None) or err).strip().splitlines()
    return f"could not use the database in DATABASE_URL: {detail[0] if detail else err}"


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"newsbot: {message}", file=sys.stderr)
    return code


def _migrate(settings: Settings) -> None:
    from bot.db import migrate
    from bot.db.engine import make_engine

    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def cmd_migrate(settings: Settings) -> int:
    """Apply migrations and report."""
    _migrate(settings)
    print("database is up to date")
    return 0


def cmd_run(settings: Settings) -> int:
    """Run the bot until SIGINT or SIGTERM."""
    token = settings.bot_token()  # fail fast, before the heavy imports

    from telegram import Update
    from telegram.error import InvalidToken, NetworkError

    from bot.app import build_application
    from bot.db import migrate
    from bot.db.engine import make_engine
    from bot.logs import setup_logging

    setup_logging(settings.log_level, secrets=[token])
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    application = build_application(settings, engine=engine)
    try:
        application.run_polling(
            allowed_updates=Update.ALL_TYPES,
            stop_signals=(signal.SIGINT, signal.SIGTERM),
            close_loop=False,
        )
    except InvalidToken:
        return _fail(
            "Telegram rejected TELEGRAM_BOT_TOKEN. Check it with @BotFather (/mybots → API Token)."
        )
    except NetworkError as err:
        return _fail(f"could not reach the Telegram Bot API: {err.message}", code=1)
    finally:
        engine.dispose()
    return 0


def cmd_summarize(settings: Settings, args: argparse.Namespace) -> int:
    """Summarize article files or JSON lines."""
    from bot.summaries.cli import run_summarize

    max_chars = args.max_chars if args.max_chars is not None else settings.summary_max_chars
    if not 80 <= max_chars <= 2000:
        return _fail("--max-chars must be between 80 and 2000")
    return run_summarize(
        files=list(args.files),
        jsonl=bool(args.jsonl),
        stdin=sys.stdin,
        stdout=sys.stdout,
        stderr=sys.stderr,
        max_chars=max_chars,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = get_settings()
        if args.command != "run":
            from bot.logs import setup_logging

            setup_logging(settings.log_level)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "run":
            return cmd_run(settings)
        if args.command == "summarize":
            return cmd_summarize(settings, args)
    except SettingsError as err:
        return _fail(str(err))
    except DB_ERRORS as err:
        return _fail(describe_db_error(err), code=1)
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
