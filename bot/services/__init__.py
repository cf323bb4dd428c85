"""Use cases: what chat commands, jobs and the command line ask of the bot.

One module per use case, one transaction per action, no Telegram types: handlers parse an
update, call a service and hand its answer to the door.

chats.py          a chat starting the bot
subscriptions.py  a chat's topics (/subscribe, /unsubscribe, /topics and their buttons)
catalog.py        the named topics (/addtopic, /removetopic, TOPICS_FILE)
stories.py        stored stories (/latest, /testtopic) and pruning them
broadcasts.py     /broadcast: drafts, confirmation, progress
feeds.py          the watched feeds (/addfeed, /removefeed, /feeds, OPML); feed_admin.py is
                  `newsbot feeds`, preview.py `newsbot preview`
stats.py          /stats and the database gauges of /metrics
preferences.py    how and when news reaches a chat (/settings), releasing due digests
alerts.py         the buttons under alerts (mute, unfollow) and "Show 3 latest"
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.ingest.watcher import FeedWatcher
from bot.services.alerts import AlertActions
from bot.services.broadcasts import Broadcasts
from bot.services.catalog import Catalog
from bot.services.chats import Chats
from bot.services.feeds import FeedManager
from bot.services.preferences import ChatSettings, Digests
from bot.services.stats import StatsReader
from bot.services.stories import Stories
from bot.services.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class Services:
    """Every use case, wired to one database and one feed watcher."""

    chats: Chats
    subscriptions: Subscriptions
    catalog: Catalog
    stories: Stories
    broadcasts: Broadcasts
    feeds: FeedManager
    stats: StatsReader
    preferences: ChatSettings
    digests: Digests
    alerts: AlertActions

    @classmethod
    def build(cls, *, engine: Engine, watcher: FeedWatcher) -> Services:
        """Wire every service to the engine (and the feed service to the watcher)."""
        return cls(
            chats=Chats(engine),
            subscriptions=Subscriptions(engine),
            catalog=Catalog(engine),
            stories=Stories(engine),
            broadcasts=Broadcasts(engine),
            feeds=FeedManager(watcher=watcher),
            stats=StatsReader(engine),
            preferences=ChatSettings(engine),
            digests=Digests(engine),
            alerts=AlertActions(engine),
        )
