"""Test doubles: a stand-in Telegram Bot API server and a local feed server."""

from .feed_server import FeedRequest, FeedResponse, FeedServer, atom, rss
from .telegram_api import (
    CallbackAnswer,
    EntityParseError,
    FakeTelegram,
    MessageEdit,
    ParsedText,
    RequestRecord,
    SentDocument,
    SentMessage,
    parse_html,
    utf16_len,
)

__all__ = [
    "CallbackAnswer",
    "EntityParseError",
    "FakeTelegram",
    "FeedRequest",
    "FeedResponse",
    "FeedServer",
    "MessageEdit",
    "ParsedText",
    "RequestRecord",
    "SentDocument",
    "SentMessage",
    "atom",
    "parse_html",
    "rss",
    "utf16_len",
]
