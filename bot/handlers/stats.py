"""The operator's /stats: chats, subscriptions, feeds, alerts and the outbox at a glance."""

from __future__ import annotations

from telegram import Update

from bot.handlers.context import Context, chat_translator, reply, sender_is_admin
from bot.i18n import ENGLISH, Translator
from bot.services.stats import DeliveryState, Stats


def stats_text(stats: Stats, t: Translator = ENGLISH) -> str:
    """Return the /stats report."""
    unknown = stats.outbox(DeliveryState.UNKNOWN)
    _ = t.gettext
    lines = [
        "📊 <b>" + _("Stats") + "</b>",
        _("Chats: {active} active, {inactive} inactive").format(
            active=f"{stats.chats_active:,}", inactive=f"{stats.chats_inactive:,}"
        ),
        _("Subscriptions: {count}").format(count=f"{stats.subscriptions:,}"),
        _("Feeds: {healthy} healthy, {failing} failing").format(
            healthy=f"{stats.feeds_healthy:,}", failing=f"{stats.feeds_failing:,}"
        )
        + (
            _(", {disabled} disabled").format(disabled=f"{stats.feeds_disabled:,}")
            if stats.feeds_disabled
            else ""
        ),
        _("Alerts sent in the last 24 hours: {count}").format(count=f"{stats.alerts_sent_24h:,}"),
        _("Stories in the last 24 hours: {count}, {average} sources per story on average").format(
            count=f"{stats.stories_24h:,}", average=f"{stats.story_sources_avg:.1f}"
        ),
        _("Queue: {queued} waiting, {sending} being sent").format(
            queued=f"{stats.outbox(DeliveryState.QUEUED):,}",
            sending=f"{stats.outbox(DeliveryState.SENDING):,}",
        ),
        _("Dead letters: {count}").format(count=f"{stats.outbox(DeliveryState.DEAD):,}")
        + (
            _(" (and {unknown} with an unknown outcome)").format(unknown=f"{unknown:,}")
            if unknown
            else ""
        ),
    ]
    for bc in stats.broadcasts:
        lines.append(
            _("Broadcast #{id}: {sent} of {total} sent, {failed} failed, {pending} waiting").format(
                id=bc.broadcast_id,
                sent=f"{bc.sent:,}",
                total=f"{bc.total:,}",
                failed=f"{bc.failed:,}",
                pending=f"{bc.pending:,}",
            )
            + (_(", {unknown} unknown").format(unknown=f"{bc.unknown:,}") if bc.unknown else "")
        )
    return "\n".join(lines)


async def stats(update: Update, context: Context) -> None:
    """Show operators the bot's numbers; politely refuse everyone else."""
    t = await chat_translator(update, context)
    if not sender_is_admin(update, context):
        await reply(context, update, t.gettext("Sorry, /stats is only for the bot's operators."))
        return
    await reply(context, update, stats_text(await context.services.stats.read(), t))
