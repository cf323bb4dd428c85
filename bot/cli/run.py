"""`newsbot run`: apply migrations and run the bot until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal

from bot.cli.common import fail
from bot.config import Settings

HELP = "apply migrations and run the bot (long polling, or a webhook with WEBHOOK_URL)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    sub.add_parser("run", help=HELP)


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


def run(settings: Settings, args: argparse.Namespace) -> int:
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
        return fail(
            "Telegram rejected TELEGRAM_BOT_TOKEN. Check it with @BotFather (/mybots → API Token)."
        )
    except NetworkError as err:
        return fail(f"could not reach the Telegram Bot API: {err.message}", code=1)
    except TelegramError as err:
        return fail(f"the Telegram Bot API refused: {err.message}", code=1)
    except OSError as err:
        if not settings.webhook_url:
            raise
        where = f"{settings.webhook_listen}:{settings.webhook_port}"
        return fail(f"cannot listen for the webhook on {where}: {err.strerror or err}", code=1)
    finally:
        if activation is not None:
            activation.lock.release()
        if ops is not None:
            ops.stop()
        engine.dispose()
    if lost is not None and lost.is_set():
        return fail("stopped after losing the instance lock; a standby takes over", code=1)
    return 0
