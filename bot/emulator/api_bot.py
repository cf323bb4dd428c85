"""Bot API methods about the bot itself: who it is, its webhook, its commands, its updates."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from bot.emulator.checks import Checks
from bot.emulator.errors import (
    CLIENT_CLOSED,
    CONFLICT_POLLING,
    CONFLICT_WEBHOOK,
    ApiError,
    bad_request,
)
from bot.emulator.limits import MAX_UPDATES_LIMIT
from bot.emulator.objects import scope_key
from bot.emulator.params import Params
from bot.emulator.state import Connection, Poller

JSON = dict[str, Any]

# Telegram's default when allowed_updates is empty or was never set.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def update_kind(update: JSON) -> str:
    """Return what an update carries ("message", "callback_query", ...)."""
    return next(key for key in update if key != "update_id")


class BotMethods(Checks):
    """getMe, logOut, close, webhooks, commands and getUpdates."""

    def end_poll(self, connection: Connection) -> None:
        """End the long poll of `connection` at once (its client gave up waiting)."""
        with self._cond:
            if self._poller is not None and self._poller.connection is connection:
                self._poller.terminated = True
                self._cond.notify_all()

    def _api_getMe(self, params: Params, connection: Connection | None) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_logOut(self, params: Params, connection: Connection | None) -> bool:
        return True

    def _api_close(self, params: Params, connection: Connection | None) -> bool:
        return True

    def _api_deleteWebhook(self, params: Params, connection: Connection | None) -> bool:
        with self._cond:
            self._webhook_url = ""
            self._webhook_secret = None
            if params.flag("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_setWebhook(self, params: Params, connection: Connection | None) -> bool:
        url = params.text("url") or ""
        if url and not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        with self._cond:
            self._webhook_url = url
            self._webhook_secret = secret if url else None
            if params.flag("drop_pending_updates"):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: Params, connection: Connection | None) -> JSON:
        with self._lock:
            return {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _api_setMyCommands(self, params: Params, connection: Connection | None) -> bool:
        commands = params.structured("commands", error="can't parse commands JSON object")
        if commands is None:
            raise bad_request("commands is empty")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = scope_key(params.structured("scope"), params.text("language_code"))
        with self._lock:
            self._commands[key] = commands
        return True

    def _api_getMyCommands(self, params: Params, connection: Connection | None) -> list[JSON]:
        key = scope_key(params.structured("scope"), params.text("language_code"))
        with self._lock:
            return copy.deepcopy(self._commands.get(key, []))

    def _api_deleteMyCommands(self, params: Params, connection: Connection | None) -> bool:
        key = scope_key(params.structured("scope"), params.text("language_code"))
        with self._lock:
            self._commands.pop(key, None)
        return True

    def _api_getUpdates(self, params: Params, connection: Connection | None) -> list[JSON]:
        offset = params.integer("offset")
        limit = min(max(params.integer("limit") or MAX_UPDATES_LIMIT, 1), MAX_UPDATES_LIMIT)
        timeout = max(params.integer("timeout") or 0, 0)
        allowed = params.structured("allowed_updates")
        me = Poller(connection)
        with self._cond:
            if self._webhook_url:
                raise ApiError(409, CONFLICT_WEBHOOK)
            current = self._poller
            if current is not None:
                # A poll whose client hung up (e.g. a cancelled request) no longer counts.
                if current.connected():
                    raise ApiError(409, CONFLICT_POLLING)
                current.terminated = True
                self._cond.notify_all()
            self._poller = me
            self._cond.notify_all()
            try:
                if isinstance(allowed, list):
                    self._allowed_updates = frozenset(str(kind) for kind in allowed)
                self._confirm(offset)
                deadline = time.monotonic() + timeout
                while True:
                    if me.terminated:
                        # Its client hung up; the log shows 499 (nginx's "client closed
                        # request") so tests can tell it from a 409 a bot really received.
                        raise ApiError(CLIENT_CLOSED, "Client Closed Request")
                    batch = self._deliverable(limit)
                    remaining = deadline - time.monotonic()
                    if batch or remaining <= 0 or self._stop_event.is_set():
                        return copy.deepcopy(batch)
                    self._cond.wait(remaining)
            finally:
                if self._poller is me:
                    self._poller = None

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[JSON]:
        allowed = self._allowed_updates
        if allowed:
            self._updates = [u for u in self._updates if update_kind(u) in allowed]
        else:
            self._updates = [u for u in self._updates if update_kind(u) not in OPT_IN_UPDATES]
        return self._updates[:limit]
