"""Bot API methods that write in chats: messages, edits, deletions and button answers."""

from __future__ import annotations

import copy
from typing import Any

from bot.emulator.checks import Checks
from bot.emulator.errors import NOT_MODIFIED, bad_request
from bot.emulator.html import ParsedText
from bot.emulator.limits import MAX_TEXT_LENGTH
from bot.emulator.params import Params, check_reply_markup
from bot.emulator.records import CallbackAnswer, MessageEdit, SentMessage, now
from bot.emulator.state import Connection

JSON = dict[str, Any]


class MessageMethods(Checks):
    """sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage and
    answerCallbackQuery."""

    def _api_sendMessage(self, params: Params, connection: Connection | None) -> JSON:
        chat_id = self._resolve_chat(params, "sendMessage")
        text = params.text("text", missing="message text is empty")
        parse_mode = params.text("parse_mode")
        parsed = self._parse_text(text, parse_mode, limit=MAX_TEXT_LENGTH)
        markup = check_reply_markup(
            params.structured("reply_markup", error="can't parse reply keyboard markup JSON object")
        )
        preview = params.structured("link_preview_options") or {}
        reply = params.structured("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.integer("reply_to_message_id")
        thread_id = params.integer("message_thread_id")
        paid = params.flag("allow_paid_broadcast")
        with self._cond:
            if reply_to is not None and self._replied_json(chat_id, int(reply_to)) is None:
                allow = isinstance(reply, dict) and reply.get("allow_sending_without_reply")
                if not (allow or params.flag("allow_sending_without_reply")):
                    raise bad_request("message to be replied not found")
                reply_to = None
            self._check_flood(chat_id, paid=paid)
            sent = SentMessage(
                chat_id=chat_id,
                message_id=self._next_message_id(chat_id),
                text=text or "",
                plain=parsed.plain,
                parse_mode=parse_mode,
                reply_markup=markup,
                links=list(parsed.links),
                message_thread_id=thread_id,
                method="sendMessage",
                date=now(),
                entities=list(parsed.entities),
                link_preview_disabled=bool(
                    params.flag("disable_web_page_preview")
                    or (isinstance(preview, dict) and preview.get("is_disabled"))
                ),
                silent=params.flag("disable_notification"),
                reply_to_message_id=int(reply_to) if reply_to is not None else None,
                allow_paid_broadcast=paid,
                seq=self._next_seq(),
            )
            self._messages.append(sent)
            self._by_key[(chat_id, sent.message_id)] = sent
            self._cond.notify_all()
            return self._message_json(sent)

    def _target_message(self, params: Params, method: str) -> SentMessage:
        inline_id = params.text("inline_message_id")
        if inline_id is not None:
            with self._lock:
                inline = self._inline.get(inline_id)
            if inline is None:
                raise bad_request("MESSAGE_ID_INVALID")
            return inline
        chat_id = self._resolve_chat(params, method)
        message_id = params.integer(
            "message_id", required=True, missing="message identifier is not specified"
        )
        assert message_id is not None
        with self._lock:
            sent = self._by_key.get((chat_id, message_id))
            if sent is None or sent.deleted:
                if (chat_id, message_id) in self._user_messages:
                    raise bad_request("message can't be edited")
                raise bad_request("message to edit not found")
            return sent

    def _record_edit(
        self,
        sent: SentMessage,
        *,
        method: str,
        text: str,
        parsed: ParsedText,
        parse_mode: str | None,
        markup: JSON | None,
    ) -> JSON | bool:
        with self._cond:
            if (
                parsed.plain == sent.plain
                and list(parsed.entities) == sent.entities
                and markup == sent.reply_markup
            ):
                raise bad_request(NOT_MODIFIED)
            if sent.method != "inline":
                self._check_flood(sent.chat_id, paid=False)  # edits count like messages
            sent.text, sent.plain, sent.parse_mode = text, parsed.plain, parse_mode
            sent.entities, sent.links = list(parsed.entities), list(parsed.links)
            sent.reply_markup = markup
            sent.edits.append(
                MessageEdit(
                    chat_id=sent.chat_id,
                    message_id=sent.message_id,
                    method=method,
                    text=text,
                    plain=parsed.plain,
                    parse_mode=parse_mode,
                    reply_markup=copy.deepcopy(markup),
                    links=list(parsed.links),
                    date=now(),
                    seq=self._next_seq(),
                )
            )
            self._cond.notify_all()
            return True if sent.method == "inline" else self._message_json(sent)

    def _api_editMessageText(self, params: Params, connection: Connection | None) -> JSON | bool:
        sent = self._target_message(params, "editMessageText")
        text = params.text("text", missing="message text is empty")
        parse_mode = params.text("parse_mode")
        parsed = self._parse_text(text, parse_mode, limit=MAX_TEXT_LENGTH)
        markup = check_reply_markup(params.structured("reply_markup"))
        return self._record_edit(
            sent,
            method="editMessageText",
            text=text or "",
            parsed=parsed,
            parse_mode=parse_mode,
            markup=markup,
        )

    def _api_editMessageReplyMarkup(
        self, params: Params, connection: Connection | None
    ) -> JSON | bool:
        sent = self._target_message(params, "editMessageReplyMarkup")
        markup = check_reply_markup(params.structured("reply_markup"))
        with self._lock:
            current = ParsedText(
                plain=sent.plain, entities=tuple(sent.entities), links=tuple(sent.links)
            )
            return self._record_edit(
                sent,
                method="editMessageReplyMarkup",
                text=sent.text,
                parsed=current,
                parse_mode=sent.parse_mode,
                markup=markup,
            )

    def _api_deleteMessage(self, params: Params, connection: Connection | None) -> bool:
        chat_id = self._resolve_chat(params, "deleteMessage")
        message_id = params.integer(
            "message_id", required=True, missing="message identifier is not specified"
        )
        with self._cond:
            sent = self._by_key.get((chat_id, message_id or 0))
            if sent is None or sent.deleted:
                if self._user_messages.pop((chat_id, message_id or 0), None) is not None:
                    return True
                raise bad_request("message to delete not found")
            sent.deleted = True
            self._cond.notify_all()
        return True

    def _api_answerCallbackQuery(self, params: Params, connection: Connection | None) -> bool:
        query_id = params.text("callback_query_id", required=True, missing="query_id is empty")
        assert query_id is not None
        with self._cond:
            if query_id not in self._open_callbacks:
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._open_callbacks.discard(query_id)
            self._callback_answers.append(
                CallbackAnswer(
                    callback_query_id=query_id,
                    text=params.text("text"),
                    show_alert=params.flag("show_alert"),
                    url=params.text("url"),
                    cache_time=params.integer("cache_time"),
                )
            )
            self._cond.notify_all()
        return True
