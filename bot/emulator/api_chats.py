"""Bot API methods about chats and files: documents, downloads, chats and their members."""

from __future__ import annotations

from typing import Any

from bot.emulator.checks import Checks
from bot.emulator.errors import bad_request
from bot.emulator.limits import MAX_CAPTION_LENGTH, MAX_DOWNLOAD_BYTES
from bot.emulator.objects import member_json, user_json
from bot.emulator.params import Params
from bot.emulator.records import SentDocument, UploadedFile, now
from bot.emulator.state import Connection

JSON = dict[str, Any]


class ChatMethods(Checks):
    """sendDocument, sendChatAction, getFile, getChat, getChatMember, getChatAdministrators."""

    def _api_sendDocument(self, params: Params, connection: Connection | None) -> JSON:
        chat_id = self._resolve_chat(params, "sendDocument")
        document = params.raw.get("document")
        upload = params.files.get("document")
        if isinstance(document, str) and document.startswith("attach://"):
            upload = params.files.get(document.removeprefix("attach://"))
        if upload is None and isinstance(document, str) and document:
            with self._lock:
                known = self._files.get(document)
            if known is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            upload = UploadedFile(known.file_path.rsplit("/", 1)[-1], known.content, "")
        if upload is None:
            raise bad_request("there is no document in the request")
        caption = params.text("caption")
        parse_mode = params.text("parse_mode")
        parsed = self._parse_text(caption, parse_mode, limit=MAX_CAPTION_LENGTH, caption=True)
        mime_type = upload.content_type or "application/octet-stream"
        with self._cond:
            self._check_flood(chat_id, paid=params.flag("allow_paid_broadcast"))
            stored = self._store_file(upload.content, file_name=upload.filename, folder="documents")
            sent = SentDocument(
                chat_id=chat_id,
                message_id=self._next_message_id(chat_id),
                filename=upload.filename,
                content=upload.content,
                mime_type=mime_type,
                caption=caption,
                caption_plain=parsed.plain if caption is not None else None,
                parse_mode=parse_mode,
                message_thread_id=params.integer("message_thread_id"),
                date=now(),
                file_id=stored.file_id,
                seq=self._next_seq(),
            )
            self._documents.append(sent)
            self._cond.notify_all()
            message: JSON = {
                "message_id": sent.message_id,
                "from": self.bot_user,
                "date": int(sent.date.timestamp()),
                "chat": self._chat_json(chat_id),
                "document": {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_name": upload.filename,
                    "mime_type": mime_type,
                    "file_size": len(upload.content),
                },
            }
            if caption is not None:
                message["caption"] = parsed.plain
                if parsed.entities:
                    message["caption_entities"] = list(parsed.entities)
            return message

    def _api_getFile(self, params: Params, connection: Connection | None) -> JSON:
        file_id = params.text("file_id", required=True, missing="file_id is empty")
        with self._lock:
            stored = self._files.get(file_id or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _api_getChat(self, params: Params, connection: Connection | None) -> JSON:
        chat_id = self._resolve_chat(params, "getChat")
        with self._lock:
            return {
                **self._chat_json(chat_id),
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }

    def _api_getChatMember(self, params: Params, connection: Connection | None) -> JSON:
        chat_id = self._resolve_chat(params, "getChatMember")
        user_id = params.integer("user_id", required=True, missing="user_id is empty")
        assert user_id is not None
        with self._lock:
            user = (
                self.bot_user
                if user_id == self.bot_id
                else user_json(user_id, self._users.get(user_id))
            )
            status = self._members.get((chat_id, user_id), "member")
            if chat_id > 0 and user_id == chat_id:
                status = "member"
            return member_json(user, status)

    def _api_getChatAdministrators(
        self, params: Params, connection: Connection | None
    ) -> list[JSON]:
        chat_id = self._resolve_chat(params, "getChatAdministrators")
        with self._lock:
            info = self._chats.get(chat_id)
            if (info.type if info else self._guess_type(chat_id)) == "private":
                raise bad_request("there are no administrators in the private chat")
            admins = []
            for (chat, user_id), status in sorted(self._members.items()):
                if chat == chat_id and status in {"creator", "administrator"}:
                    user = (
                        self.bot_user
                        if user_id == self.bot_id
                        else user_json(user_id, self._users.get(user_id))
                    )
                    admins.append(member_json(user, status))
            return admins

    def _api_sendChatAction(self, params: Params, connection: Connection | None) -> bool:
        self._resolve_chat(params, "sendChatAction")
        if not params.present("action"):
            raise bad_request("action is empty")
        return True
