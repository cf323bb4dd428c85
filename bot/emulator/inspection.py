"""What the bot did, for tests and the shell to look at: messages, edits, documents, button
answers and the log of calls."""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.emulator.objects import scope_key
from bot.emulator.records import (
    CallbackAnswer,
    MessageEdit,
    RequestRecord,
    SentDocument,
    SentMessage,
    UploadedFile,
)
from bot.emulator.state import EmulatorState

JSON = dict[str, Any]


def _short(params: JSON) -> str:
    shown = {
        k: (v if not isinstance(v, str) or len(v) < 80 else v[:77] + "...")
        for k, v in params.items()
        if not isinstance(v, UploadedFile)
    }
    return json.dumps(shown, ensure_ascii=False, default=str)


class Inspection(EmulatorState):
    """Copies of what the bot sent, taken under the lock."""

    def messages(self, chat_id: int | None = None) -> list[SentMessage]:
        """Return copies of the messages the bot sent, oldest first."""
        with self._lock:
            chosen = [m for m in self._messages if chat_id is None or m.chat_id == chat_id]
            return copy.deepcopy(chosen)

    def edits(self, chat_id: int | None = None) -> list[MessageEdit]:
        """Return copies of all edits, in order."""
        with self._lock:
            found = [
                edit
                for message in [*self._messages, *self._inline.values()]
                for edit in message.edits
                if chat_id is None or edit.chat_id == chat_id
            ]
            return copy.deepcopy(sorted(found, key=lambda edit: edit.seq))

    def documents(self, chat_id: int | None = None) -> list[SentDocument]:
        """Return copies of the documents the bot sent, oldest first."""
        with self._lock:
            chosen = [d for d in self._documents if chat_id is None or d.chat_id == chat_id]
            return copy.deepcopy(chosen)

    def callback_answers(self) -> list[CallbackAnswer]:
        """Return the answerCallbackQuery calls, oldest first."""
        with self._lock:
            return list(self._callback_answers)

    def requests(self, method: str | None = None) -> list[RequestRecord]:
        """Return the log of Bot API calls (of one method, if given), oldest first."""
        with self._lock:
            return [r for r in self._requests if method is None or r.method == method]

    @property
    def webhook(self) -> tuple[str, str | None]:
        """Return the webhook URL and secret token last set."""
        with self._lock:
            return self._webhook_url, self._webhook_secret

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Return the commands set for a scope and language."""
        with self._lock:
            return copy.deepcopy(self._commands.get(scope_key(scope, language_code), []))

    def mark(self) -> int:
        """Return a marker; wait_for_message(since=marker) ignores what came before it."""
        with self._lock:
            return self._seq

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """Return a copy of one message the bot sent (its latest state), or None."""
        with self._lock:
            return copy.deepcopy(self._by_key.get((chat_id, message_id)))

    def dump(self, *, last: int = 20) -> str:
        """Describe recent messages and failed calls, for assertion messages."""
        with self._lock:
            lines = [f"Messages sent ({len(self._messages)}, last {last} shown):"]
            for message in self._messages[-last:]:
                state = " [deleted]" if message.deleted else ""
                lines.append(
                    f"  chat {message.chat_id} #{message.message_id}{state}: "
                    f"{message.plain[:200]!r}"
                )
            failures = [record for record in self._requests if record.status != 200]
            lines.append(f"Failed calls ({len(failures)}, last {last} shown):")
            lines.extend(
                f"  {record.method} -> {record.status} {_short(record.params)}"
                for record in failures[-last:]
            )
            lines.append(f"Pending updates: {len(self._updates)}")
            return "\n".join(lines)
