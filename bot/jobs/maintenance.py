"""Daily housekeeping: old stories, sent digests and mutes that ended go."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.handlers.context import Context

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(days=1)


async def prune_entries(context: Context) -> None:
    """Job: drop stories older than the retention period, old topic changes, ended mutes."""
    days = context.settings.entry_retention_days
    removed, cutoff = await context.services.stories.prune(retention_days=days)
    if removed:
        log.info("pruned %d entries older than %s", removed, cutoff.date())
    digests = await context.services.digests.prune()
    if digests:
        log.info("pruned %d sent digests", digests)
    ended = await context.services.alerts.prune_mutes()
    if ended:
        log.info("forgot %d topic mutes that have ended", ended)
