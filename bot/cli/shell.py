"""`newsbot shell`: chat with the bot in this terminal, with no token and no network."""

from __future__ import annotations

import argparse
import logging

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import EXIT_FAILED, fail
from bot.config import Settings

log = logging.getLogger("bot")

HELP = "chat with the bot in this terminal: no token, no network (sample news without FEEDS)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    sub.add_parser("shell", help=HELP)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Chat with the bot in the terminal."""
    from bot.shell import ShellError, run_shell

    try:
        return run_shell(settings)
    except ShellError as err:
        return fail(str(err), code=EXIT_FAILED)
    except SQLAlchemyError:
        raise  # explained like every other database failure
    except Exception as err:  # people try the shell first: never show them a traceback
        log.debug("shell failed", exc_info=True)
        return fail(f"the shell stopped: {type(err).__name__}: {err}", code=EXIT_FAILED)
