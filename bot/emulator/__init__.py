"""An in-memory Telegram Bot API: the stand-in the tests serve over HTTP and `newsbot shell`
answers in-process.

It validates what Telegram validates (HTML parse mode, lengths in UTF-16 code units, button
data, chats the bot may write to), injects the errors a bot must survive (403, 429,
migrations, 5xx, slow answers, flood limits) and records everything the bot sent.
"""

from bot.emulator.core import BotApi
from bot.emulator.errors import ApiError
from bot.emulator.html import EntityParseError, ParsedText, parse_html, utf16_len
from bot.emulator.records import (
    CallbackAnswer,
    MessageEdit,
    RequestRecord,
    SentDocument,
    SentMessage,
    UploadedFile,
)
from bot.emulator.state import Connection

__all__ = [
    "ApiError",
    "BotApi",
    "CallbackAnswer",
    "Connection",
    "EntityParseError",
    "MessageEdit",
    "ParsedText",
    "RequestRecord",
    "SentDocument",
    "SentMessage",
    "UploadedFile",
    "parse_html",
    "utf16_len",
]
