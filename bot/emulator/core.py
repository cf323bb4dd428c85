"""The emulator: every part put together, and calls answered the way api.telegram.org does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from bot.emulator.api_bot import BotMethods
from bot.emulator.api_chats import ChatMethods
from bot.emulator.api_messages import MessageMethods
from bot.emulator.conversation import Conversation
from bot.emulator.errors import ApiError
from bot.emulator.faults import Faults
from bot.emulator.inspection import Inspection
from bot.emulator.params import Params, normalize
from bot.emulator.records import RequestRecord, UploadedFile, now
from bot.emulator.state import (
    DEFAULT_BOT_NAME,
    DEFAULT_BOT_USERNAME,
    DEFAULT_TOKEN,
    Connection,
    Handler,
)

JSON = dict[str, Any]
Reader = Callable[[], tuple[JSON, dict[str, UploadedFile]]]

NOT_FOUND: JSON = {"ok": False, "error_code": 404, "description": "Not Found"}
UNAUTHORIZED: JSON = {"ok": False, "error_code": 401, "description": "Unauthorized"}


class BotApi(Faults, Conversation, Inspection, BotMethods, MessageMethods, ChatMethods):
    """The Bot API, answered in memory: validates like Telegram, records what the bot did.

    Thread-safe: calls may come from many threads (an HTTP server's) or from one event loop.
    """

    METHODS: ClassVar[tuple[str, ...]] = (
        "getMe", "logOut", "close", "deleteWebhook", "setWebhook", "getWebhookInfo",
        "setMyCommands", "getMyCommands", "deleteMyCommands", "getUpdates", "sendMessage",
        "editMessageText", "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery",
        "sendDocument", "sendChatAction", "getFile", "getChat", "getChatMember",
        "getChatAdministrators",
    )  # fmt: skip

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_name: str = DEFAULT_BOT_NAME,
    ) -> None:
        super().__init__(token=token, bot_username=bot_username, bot_name=bot_name)
        self._handlers: dict[str, Handler] = {
            name.lower(): getattr(self, f"_api_{name}") for name in self.METHODS
        }
        self._canonical = {name.lower(): name for name in self.METHODS}

    def close(self) -> None:
        """End waiting long polls and injected delays at once."""
        self._stop_event.set()
        with self._cond:
            self._cond.notify_all()

    def reopen(self) -> None:
        """Let long polls and delays wait again after close()."""
        self._stop_event.clear()

    def call(
        self, path: str, read: Reader, connection: Connection | None = None
    ) -> tuple[int, JSON]:
        """Answer a call of `path` (`/bot<token>/<method>`); `read` returns its parameters.

        Returns the HTTP status and the JSON answer; calls of known methods are logged.
        """
        token, _, method_name = path.removeprefix("/bot").partition("/")
        if not path.startswith("/bot") or ":" not in token or "/" in method_name:
            return 404, dict(NOT_FOUND)
        if token != self.token:
            return 401, dict(UNAUTHORIZED)
        handler = self._handlers.get(method_name.lower())
        if handler is None:
            return 404, dict(NOT_FOUND)
        method = self._canonical[method_name.lower()]
        params: JSON = {}
        status, answer = 200, {}
        try:
            raw, files = read()
            params = {**normalize(raw), **files}
            self._before_call(method)
            answer = {"ok": True, "result": handler(Params(raw, files), connection)}
        except ApiError as error:
            status, answer = error.status, error.answer()
        except Exception as error:
            # A bug in the emulator must show up as a readable 500, not as a dropped call.
            description = f"Internal Server Error: {type(error).__name__}: {error}"
            status = 500
            answer = {"ok": False, "error_code": 500, "description": description}
        with self._cond:
            if status == 429:
                self._throttled += 1
            self._requests.append(
                RequestRecord(method=method, params=params, status=status, at=now())
            )
        return status, answer

    def download(self, path: str) -> bytes | None:
        """Return the file at `path` (`<token>/<file_path>`, as after /file/bot), or None."""
        token, _, file_path = path.partition("/")
        with self._lock:
            stored = self._files_by_path.get(file_path)
        if token != self.token or stored is None:
            return None
        return stored.content
