"""The one place where handlers, jobs, the outbox sender and start/stop work are wired."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from telegram import Bot, BotCommand, Update
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
from bot.delivery.alert_buttons import ALERT_PATTERN, BACKFILL_PATTERN
from bot.delivery.door import Door, GuardedRequest
from bot.delivery.jobs import SenderConfig
from bot.delivery.replies import ReplyLane
from bot.delivery.sender import Sender
from bot.delivery.transport import file_base_url, make_send_bot
from bot.handlers import alerts as alert_handlers
from bot.handlers import broadcast as bc_handlers
from bot.handlers import catalog as catalog_handlers
from bot.handlers import commands, guard
from bot.handlers import feeds as feed_handlers
from bot.handlers import language as language_handlers
from bot.handlers import settings as settings_handlers
from bot.handlers import stats as stats_handlers
from bot.handlers import topics as topic_handlers
from bot.handlers.context import CONTEXT_TYPES, BotData
from bot.i18n import DEFAULT, N_, SUPPORTED, translator
from bot.ingest.scheduler import run_polls
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.jobs.broadcasts import REPORT_EVERY_SECONDS, report_progress
from bot.jobs.digests import DIGEST_CHECK_SECONDS, release_digests
from bot.jobs.maintenance import PRUNE_EVERY, prune_entries
from bot.ops import metrics
from bot.services import Services
from bot.services.catalog import catalog_plan

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

MENU = [
    BotCommand("subscribe", N_("Follow a topic, e.g. /subscribe kosovo")),
    BotCommand("unsubscribe", N_("Stop following a topic")),
    BotCommand("topics", N_("List this chat's topics")),
    BotCommand("testtopic", N_("Try a topic on the newest stories")),
    BotCommand("latest", N_("The newest story, e.g. /latest nato")),
    BotCommand("settings", N_("Instant alerts or digests, quiet hours, time zone")),
    BotCommand("digest", N_("Digests at set times, e.g. /digest 08:00 18:00")),
    BotCommand("quiet", N_("Quiet hours, e.g. /quiet 22:00-07:00")),
    BotCommand("timezone", N_("This chat's time zone, e.g. /timezone Berlin")),
    BotCommand("previews", N_("Link previews on or off")),
    BotCommand("language", N_("Choose the language I answer in")),
    BotCommand("help", N_("What I do and how")),
    BotCommand("start", N_("Start receiving alerts")),
]


def menu(lang: str) -> list[BotCommand]:
    """Return the command menu with its descriptions in the language."""
    t = translator(lang)
    return [BotCommand(c.command, t.gettext(c.description)) for c in MENU]


# Commands arrive as messages in chats and groups, and as channel posts in channels.
COMMAND_UPDATES = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


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
    plan = catalog_plan(settings)
    base = settings.telegram_api_base_url
    file_base = file_base_url(base)
    builder = (
        ApplicationBuilder()
        .context_types(CONTEXT_TYPES)
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
    topics = TopicCache()
    watcher = FeedWatcher(engine=engine, settings=settings, topics=topics, client=feed_client)
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
    watcher.on_queued = door.wake
    shared: BotData = application.bot_data
    shared.settings = settings
    shared.services = Services.build(engine=engine, watcher=watcher)
    watcher.on_disabled = feed_handlers.notify_operators(
        door, settings.admin_ids, shared.services.chats.language
    )
    shared.door = door
    shared.watcher = watcher
    shared.catalog_plan = plan

    add = application.add_handler
    add(CommandHandler("start", commands.start, filters=COMMAND_UPDATES))
    add(CommandHandler("help", commands.help_command, filters=COMMAND_UPDATES))
    add(CommandHandler("subscribe", topic_handlers.subscribe, filters=COMMAND_UPDATES))
    add(CommandHandler("unsubscribe", topic_handlers.unsubscribe, filters=COMMAND_UPDATES))
    add(CommandHandler("topics", topic_handlers.topics, filters=COMMAND_UPDATES))
    add(CommandHandler("latest", commands.latest, filters=COMMAND_UPDATES))
    add(CommandHandler("testtopic", commands.testtopic, filters=COMMAND_UPDATES))
    add(CommandHandler("addtopic", catalog_handlers.addtopic, filters=COMMAND_UPDATES))
    add(CommandHandler("removetopic", catalog_handlers.removetopic, filters=COMMAND_UPDATES))
    add(CallbackQueryHandler(topic_handlers.catalog_button, pattern=r"^tc:\d+$"))
    add(CallbackQueryHandler(topic_handlers.remove_button, pattern=r"^tr:\d+$"))
    add(CommandHandler("settings", settings_handlers.settings, filters=COMMAND_UPDATES))
    add(CommandHandler("digest", settings_handlers.digest, filters=COMMAND_UPDATES))
    add(CommandHandler("quiet", settings_handlers.quiet, filters=COMMAND_UPDATES))
    add(CommandHandler("timezone", settings_handlers.timezone, filters=COMMAND_UPDATES))
    add(CommandHandler("previews", settings_handlers.previews, filters=COMMAND_UPDATES))
    add(CallbackQueryHandler(settings_handlers.settings_button, pattern=r"^st:"))
    add(CallbackQueryHandler(alert_handlers.alert_button, pattern=ALERT_PATTERN))
    add(CallbackQueryHandler(alert_handlers.backfill_button, pattern=BACKFILL_PATTERN))
    add(CommandHandler("language", language_handlers.language, filters=COMMAND_UPDATES))
    add(
        CallbackQueryHandler(
            language_handlers.language_button, pattern=language_handlers.LANGUAGE_PATTERN
        )
    )
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
    application.add_error_handler(commands.on_error)
    return application


def _shared(application: AnyApplication) -> BotData:
    shared = application.bot_data
    assert isinstance(shared, BotData)
    return shared


async def _post_init(application: AnyApplication) -> None:
    shared = _shared(application)
    assert shared.services is not None and shared.settings is not None
    assert shared.watcher is not None and shared.catalog_plan is not None
    services, settings = shared.services, shared.settings
    await services.catalog.apply(shared.catalog_plan)
    if settings.feeds:
        # Due at once: a feed's first poll comes within seconds of the start.
        added = await services.feeds.add_configured(settings.feeds)
        if added:
            log.info("added %d feeds from FEEDS", added)
    await application.bot.set_my_commands(MENU)
    # Telegram shows each user the menu of their app's language, when there is one.
    for lang in SUPPORTED:
        if lang != DEFAULT:
            await application.bot.set_my_commands(menu(lang), language_code=lang)
    jobs = application.job_queue
    assert jobs is not None, "python-telegram-bot's job-queue extra is required"
    job_kwargs = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    shared.tasks["polls"] = asyncio.create_task(
        run_polls(shared.watcher, on_round=metrics.record_poll_job), name="feed-polls"
    )
    jobs.run_repeating(
        report_progress,
        interval=REPORT_EVERY_SECONDS,
        first=1,
        name="broadcast-report",
        job_kwargs=job_kwargs,
    )
    jobs.run_repeating(
        release_digests,
        interval=DIGEST_CHECK_SECONDS,
        first=1,
        name="digests",
        job_kwargs=job_kwargs,
    )
    jobs.run_repeating(
        prune_entries, interval=PRUNE_EVERY, first=60, name="prune", job_kwargs=job_kwargs
    )
    if shared.door is not None:
        shared.tasks["door"] = asyncio.create_task(shared.door.run(), name="door")
    log.info("running as @%s", application.bot.username)


async def _post_stop(application: AnyApplication) -> None:
    shared = _shared(application)
    polls = shared.tasks.pop("polls", None)
    if polls is not None:
        polls.cancel()
        await asyncio.gather(polls, return_exceptions=True)
    if shared.door is not None:
        await shared.door.stop()
    door_task = shared.tasks.pop("door", None)
    if door_task is not None:
        door_task.cancel()


async def _post_shutdown(application: AnyApplication) -> None:
    watcher = _shared(application).watcher
    if watcher is not None:
        await watcher.aclose()
