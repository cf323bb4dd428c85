"""The one place where handlers, jobs, the outbox sender and start/stop work are wired."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from telegram import Bot, BotCommand, Update
from telegram.error import NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.config import Settings
from bot.db import feeds as feeds_db
from bot.db import repo, topic_rows
from bot.db.models import utcnow
from bot.delivery.door import Door, GuardedRequest
from bot.delivery.jobs import SenderConfig
from bot.delivery.replies import ReplyLane
from bot.delivery.sender import Sender
from bot.delivery.transport import file_base_url, make_send_bot
from bot.handlers import broadcast as bc_handlers
from bot.handlers import commands, guard
from bot.handlers import feeds as feed_handlers
from bot.handlers import stats as stats_handlers
from bot.handlers import topics as topic_handlers
from bot.ingest.alerts import TopicCache
from bot.ingest.scheduler import run_polls
from bot.ingest.watcher import FeedWatcher
from bot.ops import metrics
from bot.state import STATE_KEY, AppState, Context, state

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

MENU = [
    BotCommand("subscribe", "Follow a topic, e.g. /subscribe kosovo"),
    BotCommand("unsubscribe", "Stop following a topic"),
    BotCommand("topics", "List this chat's topics"),
    BotCommand("testtopic", "Try a topic on the newest stories"),
    BotCommand("latest", "The newest story, e.g. /latest nato"),
    BotCommand("help", "What I do and how"),
    BotCommand("start", "Start receiving alerts"),
]

BROADCAST_REPORT_SECONDS = 2.0
PRUNE_EVERY = timedelta(days=1)
# Matching indexes catch up from these; one that fell further behind rebuilds.
TOPIC_CHANGES_KEPT = timedelta(days=1)
POLLS_TASK = "poll-task"

# Commands arrive as messages in chats and groups, and as channel posts in channels.
COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


async def prune_entries(context: Context) -> None:
    """Job: drop stories older than the retention period, and old topic changes."""
    app = state(context)
    cutoff = repo.retention_cutoff(now=utcnow(), days=app.settings.entry_retention_days)
    removed = await app.db(lambda s: repo.prune_entries(session=s, older_than=cutoff))
    if removed:
        log.info("pruned %d entries older than %s", removed, cutoff.date())
    kept_since = utcnow() - TOPIC_CHANGES_KEPT
    await app.db(lambda s: topic_rows.prune_topic_changes(session=s, older_than=kept_since))


async def on_error(update: object, context: Context) -> None:
    """Log the failure (never the user's text) and apologise in the chat."""
    err = context.error
    if update is None and isinstance(err, NetworkError):
        # Fetching updates failed (the Bot API is unreachable); PTB retries on its own.
        log.warning("could not fetch updates: %s", err.message)
        return
    log.error("handler failed: %s", type(err).__name__, exc_info=err)
    the_door = state(context).door
    if isinstance(update, Update) and update.effective_message is not None and the_door:
        the_door.reply(
            update.effective_message,
            "Sorry, something went wrong on my side. Please try again in a minute.",
            parse_mode=None,
        )


def build_application(
    settings: Settings,
    *,
    engine: Engine,
    request: BaseRequest | None = None,
    feed_client: httpx.AsyncClient | None = None,
) -> AnyApplication:
    """Build the Telegram application with everything registered.

    `request` replaces the HTTP transport to the Bot API (`newsbot shell` answers in-process);
    `feed_client` replaces the watcher's HTTP client.
    """
    token = settings.bot_token()
    catalog_plan = topic_handlers.catalog_plan(settings)
    base = settings.telegram_api_base_url
    file_base = file_base_url(base)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(base)
        .base_file_url(file_base)
        .concurrent_updates(8)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    # The application's Bot may read (getMe, getUpdates, getChatMember, getFile) but not send:
    # every send, edit and answer goes through the door (bot/delivery/door.py).
    app_request = request or HTTPXRequest(connection_pool_size=8)
    updates_request = request or HTTPXRequest(connection_pool_size=1)
    builder = builder.request(GuardedRequest(app_request)).get_updates_request(
        GuardedRequest(updates_request)
    )
    application = builder.build()
    application.bot_data[topic_handlers.CATALOG_PLAN_KEY] = catalog_plan
    topics = TopicCache()
    watcher = FeedWatcher(engine=engine, settings=settings, topics=topics, client=feed_client)
    app_state = AppState(settings=settings, engine=engine, topics=topics, watcher=watcher)
    application.bot_data[STATE_KEY] = app_state
    # The door sends through its own lean transport (bot/delivery/transport.py), unless the
    # caller supplied the transport to use for everything.
    send_config = SenderConfig.from_settings(settings)
    send_bot = (
        Bot(token, base_url=base, base_file_url=file_base, request=request)
        if request is not None
        else make_send_bot(token=token, base_url=base, pool_size=send_config.in_flight_limit)
    )
    sender = Sender(
        engine=engine,
        bot=send_bot,
        config=send_config,
        owns_bot=request is None,
        replies=ReplyLane(max_age=settings.reply_max_age_seconds),
    )
    door = Door(sender)
    app_state.door = door
    watcher.on_queued = door.wake
    watcher.notify_admins = feed_handlers.make_admin_notifier(door, settings.admin_ids)

    add = application.add_handler
    add(CommandHandler("start", commands.start, filters=COMMAND_UPDATES))
    add(CommandHandler("help", commands.help_command, filters=COMMAND_UPDATES))
    add(CommandHandler("subscribe", commands.subscribe, filters=COMMAND_UPDATES))
    add(CommandHandler("unsubscribe", commands.unsubscribe, filters=COMMAND_UPDATES))
    add(CommandHandler("topics", commands.topics, filters=COMMAND_UPDATES))
    add(CommandHandler("latest", commands.latest, filters=COMMAND_UPDATES))
    add(CommandHandler("testtopic", commands.testtopic, filters=COMMAND_UPDATES))
    add(CommandHandler("addtopic", commands.addtopic, filters=COMMAND_UPDATES))
    add(CommandHandler("removetopic", commands.removetopic, filters=COMMAND_UPDATES))
    add(CallbackQueryHandler(topic_handlers.catalog_button, pattern=r"^tc:\d+$"))
    add(CallbackQueryHandler(topic_handlers.remove_button, pattern=r"^tr:\d+$"))
    # Before every other handler: commands and button presses past the per-user rate stop here.
    add(TypeHandler(Update, guard.RateLimiter()), group=-1)
    add(CommandHandler("broadcast", bc_handlers.broadcast, filters=COMMAND_UPDATES))
    add(CallbackQueryHandler(bc_handlers.broadcast_button, pattern=r"^bc:(confirm|cancel):"))
    add(CommandHandler("addfeed", feed_handlers.addfeed, filters=COMMAND_UPDATES))
    add(CommandHandler("removefeed", feed_handlers.removefeed, filters=COMMAND_UPDATES))
    add(CommandHandler("feeds", feed_handlers.list_feeds, filters=COMMAND_UPDATES))
    add(CommandHandler("exportfeeds", feed_handlers.exportfeeds, filters=COMMAND_UPDATES))
    add(CommandHandler("importfeeds", feed_handlers.importfeeds, filters=COMMAND_UPDATES))
    # A file sent with "/importfeeds" as its caption (commands in captions are not commands).
    add(
        MessageHandler(
            filters.Document.ALL & filters.CaptionRegex(r"^/importfeeds(@\w+)?(\s|$)"),
            feed_handlers.importfeeds,
        )
    )
    add(CommandHandler("stats", stats_handlers.stats, filters=COMMAND_UPDATES))
    add(
        MessageHandler(
            filters.COMMAND & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
            commands.unknown_command,
        )
    )
    add(
        MessageHandler(
            filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
            commands.other_text,
        )
    )
    application.add_error_handler(on_error)
    return application


async def _post_init(application: AnyApplication) -> None:
    app = application.bot_data[STATE_KEY]
    assert isinstance(app, AppState)
    settings = app.settings
    await topic_handlers.apply_catalog(app, application.bot_data[topic_handlers.CATALOG_PLAN_KEY])
    if settings.feeds:
        # Due at once: a feed's first poll comes within seconds of the start.
        added = await app.db(
            lambda s: feeds_db.add_feeds(session=s, urls=settings.feeds, now=utcnow())
        )
        if added:
            log.info("added %d feeds from FEEDS", len(added))
    await application.bot.set_my_commands(MENU)
    jobs = application.job_queue
    assert jobs is not None, "python-telegram-bot's job-queue extra is required"
    job_kwargs = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    application.bot_data[POLLS_TASK] = asyncio.create_task(
        run_polls(app.watcher, on_round=metrics.record_poll_job), name="feed-polls"
    )
    jobs.run_repeating(
        bc_handlers.report_progress,
        interval=BROADCAST_REPORT_SECONDS,
        first=1,
        name="broadcast-report",
        job_kwargs=job_kwargs,
    )
    jobs.run_repeating(
        prune_entries, interval=PRUNE_EVERY, first=60, name="prune", job_kwargs=job_kwargs
    )
    if app.door is not None:
        application.bot_data["door-task"] = asyncio.create_task(app.door.run())
    me = application.bot
    log.info("running as @%s", me.username)


async def _post_stop(application: AnyApplication) -> None:
    app = application.bot_data[STATE_KEY]
    assert isinstance(app, AppState)
    polls = application.bot_data.pop(POLLS_TASK, None)
    if isinstance(polls, asyncio.Task):
        polls.cancel()
        await asyncio.gather(polls, return_exceptions=True)
    if app.door is not None:
        await app.door.stop()
    task = application.bot_data.pop("door-task", None)
    if isinstance(task, asyncio.Task):
        task.cancel()


async def _post_shutdown(application: AnyApplication) -> None:
    app = application.bot_data[STATE_KEY]
    assert isinstance(app, AppState)
    await app.watcher.aclose()
