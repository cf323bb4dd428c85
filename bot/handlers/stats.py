"""The operator's /stats: chats, subscriptions, feeds, alerts and the outbox at a glance."""

from __future__ import annotations

from telegram import Update

from bot.db import outbox
from bot.db.models import utcnow
from bot.db.outbox import BotStats
from bot.handlers.commands import reply
from bot.state import Context, state


def stats_text(stats: BotStats) -> str:
    """Return the /stats report."""
    lines = [
        "📊 <b>Stats</b>",
        f"Chats: {stats.chats_active:,} active, {stats.chats_inactive:,} inactive",
        f"Subscriptions: {stats.subscriptions:,}",
        f"Feeds: {stats.feeds_healthy:,} healthy, {stats.feeds_failing:,} failing"
        + (f", {stats.feeds_disabled:,} disabled" if stats.feeds_disabled else ""),
        f"Alerts sent in the last 24 hours: {stats.alerts_sent_24h:,}",
        f"Queue: {stats.queued:,} waiting, {stats.sending:,} being sent",
        f"Dead letters: {stats.dead:,}"
        + (f" (and {stats.unknown:,} with an unknown outcome)" if stats.unknown else ""),
    ]
    return "\n".join(lines)


async def stats(update: Update, context: Context) -> None:
    """Show operators the bot's numbers; politely refuse everyone else."""
    app = state(context)
    user = update.effective_user
    if not app.is_admin(user.id if user else None):
        await reply(context, update, "Sorry, /stats is only for the bot's operators.")
        return
    numbers = await app.db(lambda s: outbox.bot_stats(session=s, now=utcnow()))
    await reply(context, update, stats_text(numbers))
