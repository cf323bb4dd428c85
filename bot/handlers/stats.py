"""The operator's /stats: chats, subscriptions, feeds, alerts and the outbox at a glance."""

from __future__ import annotations

from telegram import Update

from bot.handlers.context import Context, reply, sender_is_admin
from bot.services.stats import DeliveryState, Stats


def stats_text(stats: Stats) -> str:
    """Return the /stats report."""
    unknown = stats.outbox(DeliveryState.UNKNOWN)
    lines = [
        "📊 <b>Stats</b>",
        f"Chats: {stats.chats_active:,} active, {stats.chats_inactive:,} inactive",
        f"Subscriptions: {stats.subscriptions:,}",
        f"Feeds: {stats.feeds_healthy:,} healthy, {stats.feeds_failing:,} failing"
        + (f", {stats.feeds_disabled:,} disabled" if stats.feeds_disabled else ""),
        f"Alerts sent in the last 24 hours: {stats.alerts_sent_24h:,}",
        f"Stories in the last 24 hours: {stats.stories_24h:,}, "
        f"{stats.story_sources_avg:.1f} sources per story on average",
        f"Queue: {stats.outbox(DeliveryState.QUEUED):,} waiting, "
        f"{stats.outbox(DeliveryState.SENDING):,} being sent",
        f"Dead letters: {stats.outbox(DeliveryState.DEAD):,}"
        + (f" (and {unknown:,} with an unknown outcome)" if unknown else ""),
    ]
    for bc in stats.broadcasts:
        lines.append(
            f"Broadcast #{bc.broadcast_id}: {bc.sent:,} of {bc.total:,} sent, "
            f"{bc.failed:,} failed, {bc.pending:,} waiting"
            + (f", {bc.unknown:,} unknown" if bc.unknown else "")
        )
    return "\n".join(lines)


async def stats(update: Update, context: Context) -> None:
    """Show operators the bot's numbers; politely refuse everyone else."""
    if not sender_is_admin(update, context):
        await reply(context, update, "Sorry, /stats is only for the bot's operators.")
        return
    await reply(context, update, stats_text(await context.services.stats.read()))
