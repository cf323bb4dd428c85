"""The Bot API of `newsbot shell`, answered in-process by the same emulator the tests use.

The emulator validates every call as Telegram would (HTML, lengths, button data), so a
render bug shows in the shell as it would in a chat: the call is refused and the shell says
so. The lines typed become updates; the messages the bot sends are printed, and buttons
become numbered choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram.request import BaseRequest, RequestData

from bot.delivery.door import is_door_method
from bot.delivery.ptb import ODVInput
from bot.emulator import BotApi, SentMessage, UploadedFile
from bot.emulator.params import Params
from bot.shell.terminal import Terminal, styled

JSON = dict[str, Any]

# A well-formed token that never leaves this process: the shell answers every call itself.
SHELL_TOKEN = "1000000001:LocalShellTokenThatNeverLeavesThisProcess"
SHELL_BOT_USERNAME = "newsbot_shell_bot"
SHELL_BOT_NAME = "newsbot"
DEFAULT_USER_ID = 1001


@dataclass(slots=True)
class Choice:
    """A button shown as a numbered choice."""

    chat_id: int
    message_id: int
    button: JSON


class ShellApi:
    """The emulator with the person at the terminal as its user: what they type becomes
    updates, what the bot sends is printed."""

    def __init__(self, terminal: Terminal, *, user_id: int = DEFAULT_USER_ID) -> None:
        self.terminal = terminal
        self.user_id = user_id
        self.emulator = BotApi(
            token=SHELL_TOKEN, bot_username=SHELL_BOT_USERNAME, bot_name=SHELL_BOT_NAME
        )
        self.choices: dict[int, Choice] = {}
        self._choice_numbers = itertools.count(1)
        self._hinted = False
        # Updates queued whose handlers have not finished yet (see `done`).
        self.outstanding: set[int] = set()
        self._idle = asyncio.Event()
        self._arrived = asyncio.Event()

    # -- what the person does ---------------------------------------------------------------

    def say(self, text: str) -> None:
        """Queue a text message from the current user in their private chat."""
        update_id = self.emulator.send_message_update(
            chat_id=self.user_id, text=text, user_id=self.user_id
        )
        self._queued(update_id)

    def press(self, number: int) -> bool:
        """Press the button shown as choice `number`; return False when there is none."""
        choice = self.choices.get(number)
        if choice is None:
            return False
        data = choice.button.get("callback_data")
        if data is None:
            url = choice.button.get("url")
            self.terminal.note(
                f"(that button opens {url})" if url else "(that button does nothing)"
            )
            return True
        self.emulator.send_callback_update(
            chat_id=choice.chat_id,
            user_id=self.user_id,
            message_id=choice.message_id,
            data=str(data),
        )
        self._queued(self.emulator.last_update_id)
        return True

    def _queued(self, update_id: int) -> None:
        self.outstanding.add(update_id)
        self._idle.clear()
        self._arrived.set()

    def done(self, update_id: int) -> None:
        """Note that the bot finished handling an update."""
        self.outstanding.discard(update_id)
        if not self.outstanding:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> None:  # noqa: ASYNC109 (a cap, not a deadline)
        """Wait until the bot handled every queued update, at most `timeout` seconds."""
        if self.outstanding:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
            self.outstanding.clear()

    # -- the Bot API ------------------------------------------------------------------------

    async def call(self, path: str, raw: JSON, files: dict[str, UploadedFile]) -> tuple[int, JSON]:
        """Answer one Bot API call and show its effect; return the status and the answer."""
        method = path.rpartition("/")[2]
        if method.lower() == "getupdates":
            return await self._get_updates(path, raw)
        status, answer = self.emulator.call(path, lambda: (raw, files))
        if status == 200:
            self._show_effect(method, raw, answer["result"])
        elif is_door_method(method):
            self.terminal.note(f"(Telegram refuses this {method}: {answer['description']})")
        return status, answer

    async def _get_updates(self, path: str, raw: JSON) -> tuple[int, JSON]:
        """Long-poll without a thread: every update comes from this shell, on this loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(raw.get("timeout") or 0)
        at_once = {**raw, "timeout": "0"}
        while True:
            self._arrived.clear()
            status, answer = self.emulator.call(path, lambda: (at_once, {}))
            remaining = deadline - loop.time()
            if status != 200 or answer["result"] or remaining <= 0:
                return status, answer
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    # -- showing what the bot did -----------------------------------------------------------

    def _show_effect(self, method: str, raw: JSON, result: Any) -> None:
        params = Params(raw, {})
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            if isinstance(result, dict):
                sent = self.emulator.message(result["chat"]["id"], result["message_id"])
                if sent is not None:
                    self._show(sent, edited=method != "sendMessage")
        elif method == "sendDocument":
            self._show_document(result)
        elif method == "deleteMessage":
            chat_id, message_id = params.integer("chat_id"), params.integer("message_id")
            self._drop_choices(chat_id or 0, message_id or 0)
            self.terminal.note(f"(the bot deleted message #{message_id} in chat {chat_id})")
        elif method == "answerCallbackQuery":
            text = params.text("text")
            if text:
                kind = "alert" if params.flag("show_alert") else "notice"
                self.terminal.message(header=f"newsbot ({kind}):", body=text)

    def _header(self, chat_id: int, *, edited: bool) -> str:
        to = "" if chat_id == self.user_id else f" → chat {chat_id}"
        return f"newsbot{to}{' (edited)' if edited else ''}:"

    def _show(self, sent: SentMessage, *, edited: bool) -> None:
        # An edited keyboard keeps its numbers, so "1" stays the first button.
        reuse = iter(self._drop_choices(sent.chat_id, sent.message_id))
        buttons: list[tuple[int, str]] = []
        for row in sent.buttons:
            for button in row:
                number = next(reuse, None) or next(self._choice_numbers)
                self.choices[number] = Choice(sent.chat_id, sent.message_id, button)
                buttons.append((number, str(button.get("text", ""))))
        body = styled(sent.plain, sent.entities, color=self.terminal.color)
        header = self._header(sent.chat_id, edited=edited)
        self.terminal.message(header=header, body=body, buttons=buttons)
        if buttons and not self._hinted:
            self._hinted = True
            self.terminal.note("(type a button's number to press it)")

    def _show_document(self, message: JSON) -> None:
        document = message.get("document", {})
        shown = f"[file: {document.get('file_name')}, {document.get('file_size', 0)} bytes]"
        if message.get("caption"):
            caption = styled(message["caption"], message.get("caption_entities", []), color=False)
            shown += "\n" + caption
        header = self._header(message["chat"]["id"], edited=False)
        self.terminal.message(header=header, body=shown)

    def _drop_choices(self, chat_id: int, message_id: int) -> list[int]:
        """Forget the message's choices; return their numbers, in order."""
        numbers = sorted(
            n for n, c in self.choices.items() if (c.chat_id, c.message_id) == (chat_id, message_id)
        )
        for number in numbers:
            del self.choices[number]
        return numbers


def _uploads(request_data: RequestData) -> dict[str, UploadedFile]:
    files: dict[str, UploadedFile] = {}
    for name, part in request_data.multipart_data.items():
        filename, content, *rest = part
        data = content if isinstance(content, bytes) else content.read()
        kind = rest[0] if rest else "application/octet-stream"
        files[name] = UploadedFile(filename=str(filename or name), content=data, content_type=kind)
    return files


class ShellRequest(BaseRequest):
    """A `BaseRequest` that hands every Bot API call to a `ShellApi`."""

    def __init__(self, api: ShellApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        """Return None: answers come from this process."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer the call the way api.telegram.org would."""
        raw: JSON = dict(request_data.json_parameters) if request_data is not None else {}
        files = (
            _uploads(request_data)
            if request_data is not None and request_data.contains_files
            else {}
        )
        # The path from /bot<token>/ on, whatever base URL the settings give.
        path = "/bot" + urlsplit(url).path.rpartition("/bot")[2]
        status, answer = await self.api.call(path, raw, files)
        return status, json.dumps(answer, ensure_ascii=False).encode("utf-8")
