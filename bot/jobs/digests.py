"""Release the digests that are due, from the times stored with each chat's preferences."""

from __future__ import annotations

import logging

from bot.delivery.digest import render_digest
from bot.handlers.context import Context

log = logging.getLogger(__name__)

# How often due digests are looked for: a digest goes out at most this late.
DIGEST_CHECK_SECONDS = 15


async def release_digests(context: Context) -> None:
    """Job: queue every due digest (one outbox row per chat) and wake the door."""
    report = await context.services.digests.release_due(render_digest)
    if report.digests:
        log.info("queued %d digests with %d stories", report.digests, report.stories)
        context.door.wake()
