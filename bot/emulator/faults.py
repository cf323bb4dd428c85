"""Faults a bot must survive, injected on demand: blocked, missing and migrated chats, 429s,
server errors, slow answers and Telegram's flood limits; and chats set up for a test."""

from __future__ import annotations

from http import HTTPStatus

from bot.emulator.errors import ApiError
from bot.emulator.limits import FloodControl
from bot.emulator.objects import MEMBER_STATUSES
from bot.emulator.records import ChatInfo, SentMessage, now
from bot.emulator.state import EmulatorState


class Faults(EmulatorState):
    """Fault injection and test set-up."""

    def block(self, chat_id: int, *, description: str | None = None) -> None:
        """Answer further writes to chat_id with 403, as when the user blocked the bot."""
        with self._lock:
            self._blocked[chat_id] = description or self._forbidden_reason(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Let writes to chat_id through again."""
        with self._lock:
            self._blocked.pop(chat_id, None)

    def chat_not_found(self, chat_id: int) -> None:
        """Answer requests about chat_id with 400 "chat not found"."""
        with self._lock:
            self._not_found.add(chat_id)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """Answer requests to chat_id with 400 carrying migrate_to_chat_id."""
        with self._lock:
            self._migrated[chat_id] = new_chat_id
            old = self._chats.get(chat_id)
            title = old.title if old else None
            self._chats.setdefault(
                new_chat_id, ChatInfo(chat_id=new_chat_id, type="supergroup", title=title)
            )

    def rate_limit(
        self, chat_id: int | None = None, *, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next `times` sends (to chat_id, or any chat) with 429."""
        with self._lock:
            self._rate_limits.append([chat_id, retry_after, times])

    def fail_next(self, method: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` calls of method with an HTTP 5xx error."""
        with self._lock:
            self._failures[method.lower()] = [status, times]

    def set_delay(self, method: str, seconds: float) -> None:
        """Sleep before answering method (0 removes the delay); stop() interrupts it."""
        with self._lock:
            if seconds > 0:
                self._delays[method.lower()] = seconds
            else:
                self._delays.pop(method.lower(), None)

    def enforce_limits(
        self,
        *,
        per_chat_per_second: float = 1,
        per_group_per_minute: float = 20,
        global_per_second: float = 30,
        burst: float = 5,
        paid_per_second: float = 1000,
    ) -> None:
        """Answer sends and edits beyond Telegram's flood limits with 429.

        Token buckets: one per chat (a burst of `burst`, then `per_chat_per_second`), one
        per group or channel (20/minute) and one global (30/s, or 1000/s for
        allow_paid_broadcast sends). The defaults are Telegram's: short bursts of about 5
        messages to one chat are let through, then about one a second.
        """
        with self._lock:
            self._flood = FloodControl(
                per_chat_per_second=per_chat_per_second,
                per_group_per_minute=per_group_per_minute,
                global_per_second=global_per_second,
                burst=burst,
                paid_per_second=paid_per_second,
            )

    def disable_limits(self) -> None:
        """Stop enforcing flood limits."""
        with self._lock:
            self._flood = None

    @property
    def too_many_requests(self) -> int:
        """Return how many 429 answers were given."""
        with self._lock:
            return self._throttled

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Set what getChatMember answers for (chat_id, user_id)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unsupported member status {status!r}")
        with self._lock:
            self._members[(chat_id, user_id)] = status

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> None:
        """Register a chat so getChat and messages describe it."""
        with self._lock:
            self._register_chat(
                chat_id, chat_type=chat_type, title=title, username=username, is_forum=is_forum
            )

    def delete_by_user(self, chat_id: int, message_id: int) -> None:
        """Delete a message the bot sent, as a person in the chat would."""
        with self._lock:
            sent = self._by_key.get((chat_id, message_id))
            if sent is not None:
                sent.deleted = True

    def add_inline_message(self, inline_message_id: str, text: str) -> None:
        """Register an inline message that editMessageText can target."""
        with self._lock:
            self._inline[inline_message_id] = SentMessage(
                chat_id=0,
                message_id=0,
                text=text,
                plain=text,
                parse_mode=None,
                reply_markup=None,
                links=[],
                message_thread_id=None,
                method="inline",
                date=now(),
            )

    def _before_call(self, method: str) -> None:
        key = method.lower()
        with self._lock:
            delay = self._delays.get(key, 0.0)
        if delay:
            self._stop_event.wait(delay)
        with self._lock:
            failure = self._failures.get(key)
            if failure is None:
                return
            status, times = failure
            if times <= 1:
                del self._failures[key]
            else:
                failure[1] = times - 1
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Internal Server Error"
        raise ApiError(status, phrase)
