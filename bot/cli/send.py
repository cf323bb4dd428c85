"""`newsbot send`: run only the outbox sender, for extra sender processes.

For extra sender processes on a PostgreSQL database (each takes its share of SEND_RATE),
and for the fan-out benchmark. Settings come from the environment as for `newsbot run`;
the database must be migrated already. Stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import replace

from sqlalchemy.engine import Engine

from bot.cli.common import fail
from bot.config import Settings

log = logging.getLogger("bot.delivery.sender")

HELP = "send queued alerts and broadcasts from the outbox, and nothing else (extra senders)"
IDLE_CHECK_SECONDS = 0.5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    send = sub.add_parser(
        "send",
        help=HELP,
        description="Send queued alerts and broadcasts from the outbox, and nothing else: an "
        "extra sender process beside `newsbot run` (PostgreSQL), each taking its share of "
        "SEND_RATE.",
    )
    send.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="stop once no message is queued or in flight (for benchmarks and batch runs)",
    )
    send.add_argument("--sender-id", default=None, help="name this sender (default: host:pid)")
    send.add_argument(
        "--lease",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long a silent sender keeps its claimed messages (default 10)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Check settings and database, and send until stopped."""
    if args.lease is not None and not 0.5 <= args.lease <= 3600:
        return fail("--lease must be between 0.5 and 3600 seconds")
    token = settings.bot_token()

    from bot.db import migrate
    from bot.db.engine import make_engine
    from bot.ops.logs import setup_logging

    setup_logging(
        settings.log_level, secrets=[token, token.partition(":")[2]], fmt=settings.log_format
    )
    engine = make_engine(settings.database_url)
    try:
        if migrate.pending(engine):
            return fail("the database needs migrations; run `newsbot migrate` first")
        return asyncio.run(
            _serve(
                settings,
                engine,
                until_idle=args.exit_when_idle,
                sender_id=args.sender_id,
                lease=args.lease,
            )
        )
    finally:
        engine.dispose()


async def _until_idle(engine: Engine, stop: asyncio.Event) -> None:
    from bot.db import outbox
    from bot.db.engine import session_scope

    def open_rows() -> int:
        with session_scope(engine) as session:
            return outbox.open_count(session=session)

    while not stop.is_set():
        if await asyncio.to_thread(open_rows) == 0:
            stop.set()
            return
        await asyncio.sleep(IDLE_CHECK_SECONDS)


async def _serve(
    settings: Settings,
    engine: Engine,
    *,
    until_idle: bool,
    sender_id: str | None,
    lease: float | None,
) -> int:
    from telegram.error import InvalidToken, TelegramError

    from bot.delivery.sender import Sender, SenderConfig
    from bot.delivery.transport import make_send_bot

    config = SenderConfig.from_settings(settings)
    if lease is not None:
        config = replace(config, lease=lease)
    bot = make_send_bot(
        token=settings.bot_token(),
        base_url=settings.telegram_api_base_url,
        pool_size=config.in_flight_limit,
    )
    try:
        await bot.initialize()
    except InvalidToken:
        await bot.shutdown()
        return fail(
            "Telegram rejected TELEGRAM_BOT_TOKEN. Check it with @BotFather (/mybots → API Token)."
        )
    except TelegramError as err:
        log.warning("could not reach the Bot API at start (%s); sending anyway", err)
    sender = Sender(engine=engine, bot=bot, config=config, owns_bot=True, sender_id=sender_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(sender.run())
    watchers: list[asyncio.Task[object]] = [asyncio.create_task(stop.wait())]
    if until_idle:
        watchers.append(asyncio.create_task(_until_idle(engine, stop)))
    await asyncio.wait([task, *watchers], return_when=asyncio.FIRST_COMPLETED)
    await sender.stop()
    for w in watchers:
        w.cancel()
    if not task.done():
        task.cancel()
    log.info("sender %s stopped after sending %d messages", sender.id, sender.sent)
    return 0
