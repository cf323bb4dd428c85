"""Parse `newsbot`'s arguments, load the settings and hand over to the subcommand."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from bot.cli import cluster, feeds, migrate, preview, run, send, shell, summarize
from bot.cli.common import EXIT_FAILED, EXIT_USAGE, describe_db_error, fail
from bot.config import SettingsError, get_settings

# Subcommands in the order `newsbot --help` lists them.
COMMANDS = (run, shell, migrate, send, summarize, cluster, feeds, preview)
# These set up logging themselves (with the secrets to hide).
OWN_LOGGING = ("run", "shell", "send")


def parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand."""
    top = argparse.ArgumentParser(
        prog="newsbot",
        description="Breaking news alerts for Telegram: watches feeds, summarizes new stories "
        "and alerts the chats subscribed to a matching topic.",
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `newsbot` and `python -m bot`."""
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.command is None:
        arguments.print_help()
        return EXIT_USAGE
    try:
        settings = get_settings()
        if args.command not in OWN_LOGGING:
            from bot.ops.logs import setup_logging

            setup_logging(settings.log_level, fmt=settings.log_format)
        module = next(c for c in COMMANDS if c.__name__.rpartition(".")[2] == args.command)
        code: int = module.run(settings, args)
        return code
    except SettingsError as err:
        return fail(str(err))
    except SQLAlchemyError as err:
        return fail(describe_db_error(err), code=EXIT_FAILED)
    except KeyboardInterrupt:
        return 130
