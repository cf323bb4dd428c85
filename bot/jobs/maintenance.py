"""Daily housekeeping: stories past the retention period go, and sent digests."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.handlers.context import Context

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(days=1)


async def prune_entries(context: Context) -> None:
    """Job: drop stories older than the retention period, and old topic changes."""
    days = context.settings.entry_retention_days
    removed, cutoff = await context.services.stories.prune(retention_days=days)
    if removed:
        log.info("pruned %d entries older than %s", removed, cutoff.date())
    digests = await context.services.digests.prune()
    if digests:
        log.info("pruned %d sent digests", digests)
