"""Command line: `newsbot run`, `shell`, `migrate`, `summarize`, `cluster`, `feeds`, `preview`."""

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
    sub.add_parser(
        "run", help="apply migrations and run the bot (long polling, or a webhook with WEBHOOK_URL)"
    )
    sub.add_parser(
        "shell",
        help="chat with the bot in this terminal: no token, no network (sample news without FEEDS)",
    )
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
    cluster = sub.add_parser(
        "cluster",
        help="group reports of the same event into stories, as the feed watcher does",
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
    feeds = sub.add_parser("feeds", help="list, add, remove, import or export the watched feeds")
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
    preview = sub.add_parser(
        "preview", help="print the alerts a feed's newest entries would produce (no Telegram)"
    )
    preview.add_argument("sources", nargs="+", metavar="URL_OR_FILE", help="feed URLs or files")
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


def reach_bot_api(settings: Settings) -> None:
    """Ask the Bot API who we are (getMe); raise its error, before anything starts.

    python-telegram-bot would otherwise log its start-up failure with a long traceback.
    """
    import asyncio

    from bot.delivery.transport import make_send_bot

    async def ask() -> None:
        bot = make_send_bot(
            token=settings.bot_token(), base_url=settings.telegram_api_base_url, pool_size=1
        )
        async with bot:  # initialize() calls getMe
            pass

    asyncio.run(ask())


def cmd_run(settings: Settings) -> int:
    """Run the bot until SIGINT or SIGTERM: long polling, or a webhook with WEBHOOK_URL."""
    token = settings.bot_token()  # fail fast, before the heavy imports

    from telegram import Update
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from bot.app import build_application
    from bot.db import migrate
    from bot.db.engine import make_engine
    from bot.ops import standby
    from bot.ops.health import InstanceStatus, start_ops_server
    from bot.ops.logs import secrets_of, setup_logging
    from bot.ops.webhook import WebhookOptions, run_webhook

    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    setup_logging(settings.log_level, secrets=secrets_of(token, secret), fmt=settings.log_format)
    engine = make_engine(settings.database_url)
    status = InstanceStatus()
    ops = start_ops_server(
        listen=settings.metrics_listen,
        port=settings.metrics_port,
        engine=engine,
        status=status,
        poll_interval=settings.poll_interval_seconds,
    )
    activation = None
    lost = None
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    try:
        try:
            activation = standby.become_active(
                settings.database_url, check_seconds=settings.standby_check_seconds
            )
        except standby.Stopped:
            return 0
        migrate.upgrade(engine)
        reach_bot_api(settings)
        application = build_application(settings, engine=engine)
        if activation is not None:
            lost = standby.guard(
                application, activation.lock, check_seconds=settings.standby_check_seconds
            )
        status.activate()
        if settings.webhook_url:
            assert secret is not None  # the settings require one with WEBHOOK_URL
            options = WebhookOptions(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                webhook_url=settings.webhook_url,
                secret=secret,
                stop_signals=stop_signals,
            )
            run_webhook(application, options)
        else:
            application.run_polling(
                allowed_updates=Update.ALL_TYPES, stop_signals=stop_signals, close_loop=False
            )
    except InvalidToken:
        return _fail(
            "Telegram rejected TELEGRAM_BOT_TOKEN. Check it with @BotFather (/mybots → API Token)."
        )
    except NetworkError as err:
        return _fail(f"could not reach the Telegram Bot API: {err.message}", code=1)
    except TelegramError as err:
        return _fail(f"the Telegram Bot API refused: {err.message}", code=1)
    except OSError as err:
        if not settings.webhook_url:
            raise
        where = f"{settings.webhook_listen}:{settings.webhook_port}"
        return _fail(f"cannot listen for the webhook on {where}: {err.strerror or err}", code=1)
    finally:
        if activation is not None:
            activation.lock.release()
        if ops is not None:
            ops.stop()
        engine.dispose()
    if lost is not None and lost.is_set():
        return _fail("stopped after losing the instance lock; a standby takes over", code=1)
    return 0


def cmd_shell(settings: Settings) -> int:
    """Chat with the bot in the terminal."""
    from bot.shell import ShellError, run_shell

    try:
        return run_shell(settings)
    except ShellError as err:
        return _fail(str(err), code=1)
    except DB_ERRORS:
        raise
    except Exception as err:  # people try the shell first: never show them a traceback
        log.debug("shell failed", exc_info=True)
        return _fail(f"the shell stopped: {type(err).__name__}: {err}", code=1)


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


def cmd_cluster(args: argparse.Namespace) -> int:
    """Group JSON lines of reports into stories."""
    from bot.stories.cli import run_cluster

    return run_cluster(source=args.file, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)


def cmd_feeds(settings: Settings, args: argparse.Namespace) -> int:
    """Manage the feed list."""
    import asyncio

    from bot.feeds.cli import run_feeds

    return asyncio.run(
        run_feeds(
            settings=settings,
            action=args.feeds_action,
            arg=getattr(args, "target", None),
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
    )


def cmd_preview(settings: Settings, args: argparse.Namespace) -> int:
    """Print the alerts feeds would produce."""
    import asyncio

    from bot.feeds.preview import run_preview

    return asyncio.run(
        run_preview(
            settings=settings, sources=list(args.sources), stdout=sys.stdout, stderr=sys.stderr
        )
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
        if args.command not in ("run", "shell"):
            from bot.ops.logs import setup_logging

            setup_logging(settings.log_level, fmt=settings.log_format)
        if args.command == "migrate":
            return cmd_migrate(settings)
        if args.command == "run":
            return cmd_run(settings)
        if args.command == "shell":
            return cmd_shell(settings)
        if args.command == "summarize":
            return cmd_summarize(settings, args)
        if args.command == "cluster":
            return cmd_cluster(args)
        if args.command == "feeds":
            return cmd_feeds(settings, args)
        if args.command == "preview":
            return cmd_preview(settings, args)
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
