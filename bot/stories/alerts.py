"""One alert per story per chat: what a new report of a story means for each chat.

The first report of a story that matches a chat's topics alerts the chat. A later report of
the same story sends nothing new: the chat's alert is edited to name the other sources
("Also: …"), at most once per `interval`; sources that arrive meanwhile wait for the next
edit, none is lost. A later report matching a topic the first did not alerts that topic's
chats, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta

# Sources an "Also:" line names; the rest are counted ("and 3 more").
ALSO_MAX = 5


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """What a report does in its story's chats: new alerts ({chat: thread}) and edits."""

    alerts: dict[int, int | None]
    edits: list[int]


def plan_report(
    *,
    matched: Mapping[int, int | None],
    alerted: Mapping[int, bool],
    undelivered: Set[int] = frozenset(),
) -> ChatPlan:
    """Decide alerts and edits for a report joining a story.

    `matched` are the chats whose topics the report matches ({chat: thread}); `alerted` the
    chats that already got the story's alert, each with whether an edit is already queued;
    `undelivered` those of them whose alert never arrived (refused, given up, cancelled).
    Every alerted chat without a queued edit gets one, matched or not (its alert is about
    the story); a matched chat not yet alerted, or whose alert never arrived, gets an
    alert. The database settles races: a first alert is queued only where the chat's story
    record could be inserted.
    """
    alerts = {
        chat: thread
        for chat, thread in matched.items()
        if chat not in alerted or chat in undelivered
    }
    edits = sorted(
        chat for chat, queued in alerted.items() if not queued and chat not in undelivered
    )
    return ChatPlan(alerts=alerts, edits=edits)


def edit_due(*, now: datetime, edited_at: datetime | None, interval: timedelta) -> datetime:
    """Return when a chat's next edit of a story may go: `interval` after the last one."""
    if edited_at is None:
        return now
    return max(now, edited_at + interval)


@dataclass(frozen=True, slots=True)
class Source:
    """A report of a story as the "Also:" line names it."""

    name: str
    link: str | None


def also_sources(
    reports: Iterable[Source], *, alerted: Source, limit: int = ALSO_MAX
) -> tuple[list[Source], int]:
    """Return the sources to name besides the alerted one (first report of each, in order)
    and how many more there are. Reports without a source name are left out."""
    seen = {alerted.name.casefold()}
    named: list[Source] = []
    more = 0
    for report in reports:
        key = report.name.strip().casefold()
        if not key or key in seen:
            continue
        seen.add(key)
        if len(named) < limit:
            named.append(report)
        else:
            more += 1
    return named, more
