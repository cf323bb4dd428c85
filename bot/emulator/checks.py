"""Checks every write goes through: the chat exists and accepts the bot, flood limits, and
texts valid in their parse mode and within Telegram's lengths."""

from __future__ import annotations

from bot.emulator.errors import ApiError, bad_request, too_many_requests
from bot.emulator.html import EntityParseError, ParsedText, parse_html, utf16_len
from bot.emulator.params import Params
from bot.emulator.state import EmulatorState

SEND_METHODS = frozenset({"sendMessage", "sendDocument"})
CHAT_WRITE_METHODS = SEND_METHODS | {"editMessageText", "editMessageReplyMarkup", "deleteMessage"}


class Checks(EmulatorState):
    """Validation shared by the Bot API methods."""

    def _resolve_chat(self, params: Params, method: str) -> int:
        raw = params.text("chat_id", required=True)
        assert raw is not None
        with self._lock:
            if raw.startswith("@"):
                found = [c.chat_id for c in self._chats.values() if c.username == raw[1:]]
                if not found:
                    raise bad_request("chat not found")
                chat_id = found[0]
            else:
                try:
                    chat_id = int(raw)
                except ValueError:
                    raise bad_request("chat not found") from None
            if chat_id in self._migrated:
                raise ApiError(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[chat_id]},
                )
            if chat_id in self._not_found:
                raise bad_request("chat not found")
            if method in CHAT_WRITE_METHODS and chat_id in self._blocked:
                raise ApiError(403, self._blocked[chat_id])
            if method in SEND_METHODS:
                self._take_injected_rate_limit(chat_id)
        return chat_id

    def _take_injected_rate_limit(self, chat_id: int) -> None:
        for entry in self._rate_limits:
            target, retry_after, times = entry
            if target is None or target == chat_id:
                if times <= 1:
                    self._rate_limits.remove(entry)
                else:
                    entry[2] = times - 1
                raise too_many_requests(retry_after)

    def _check_flood(self, chat_id: int, *, paid: bool) -> None:
        if self._flood is None:
            return
        retry_after = self._flood.acquire(chat_id, paid=paid)
        if retry_after is not None:
            raise too_many_requests(retry_after)

    @staticmethod
    def _parse_text(
        text: str | None, parse_mode: str | None, *, limit: int, caption: bool = False
    ) -> ParsedText:
        """Validate a text or caption the way Telegram does and return its visible form."""
        what = "message caption" if caption else "message text"
        if text is None:
            if caption:
                return ParsedText(plain="", entities=(), links=())
            raise bad_request(f"{what} is empty")
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                parsed = parse_html(text)
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error.reason}") from None
        elif mode in {"", "markdown", "markdownv2"}:
            # Markdown is passed through unparsed; the project sends HTML.
            parsed = ParsedText(plain=text, entities=(), links=())
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode}")
        if not caption and not parsed.plain.strip():
            raise bad_request(f"{what} is empty")
        if utf16_len(parsed.plain) > limit:
            raise bad_request("message caption is too long" if caption else "message is too long")
        return parsed
