"""Bot API request parameters: JSON bodies, form fields or multipart parts, read as Telegram
reads them."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote

from bot.emulator.errors import bad_request
from bot.emulator.records import UploadedFile

JSON = dict[str, Any]


class Params:
    """Typed access to Bot API parameters sent as JSON, form fields or multipart parts."""

    def __init__(self, raw: JSON, files: dict[str, UploadedFile]) -> None:
        self.raw = raw
        self.files = files

    def present(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is not None and value != ""

    def text(self, name: str, *, required: bool = False, missing: str | None = None) -> str | None:
        if not self.present(name):
            if required:
                raise bad_request(missing or f"{name} is empty")
            return None
        value = self.raw[name]
        return value if isinstance(value, str) else json.dumps(value)

    def integer(
        self, name: str, *, required: bool = False, missing: str | None = None
    ) -> int | None:
        if not self.present(name):
            if required:
                raise bad_request(missing or f"{name} is empty")
            return None
        value = self.raw[name]
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in {"true", "1"}
        return bool(value)

    def structured(self, name: str, *, error: str | None = None) -> Any:
        if not self.present(name):
            return None
        value = self.raw[name]
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(error or f"can't parse {name} JSON object") from None


INT_FIELDS = frozenset(
    {
        "chat_id", "message_id", "message_thread_id", "offset", "limit", "timeout", "user_id",
        "reply_to_message_id", "cache_time", "max_connections",
    }
)  # fmt: skip
JSON_FIELDS = frozenset(
    {
        "reply_markup", "reply_parameters", "link_preview_options", "allowed_updates",
        "commands", "scope", "entities", "caption_entities",
    }
)  # fmt: skip
BOOL_FIELDS = frozenset(
    {
        "disable_web_page_preview", "disable_notification", "protect_content", "show_alert",
        "allow_paid_broadcast", "drop_pending_updates", "allow_sending_without_reply",
    }
)  # fmt: skip


def normalize(params: JSON) -> JSON:
    """Decode form-encoded values of well-known fields, so the log reads like JSON input."""
    normal: JSON = {}
    for key, value in params.items():
        if isinstance(value, str):
            try:
                if key in INT_FIELDS and re.fullmatch(r"-?\d+", value):
                    value = int(value)
                elif key in JSON_FIELDS:
                    value = json.loads(value)
                elif key in BOOL_FIELDS and value in {"true", "false"}:
                    value = value == "true"
            except json.JSONDecodeError:
                pass
        normal[key] = value
    return normal


def parse_multipart(body: bytes, content_type: str) -> tuple[JSON, dict[str, UploadedFile]]:
    """Split a multipart/form-data body into fields and files, byte-exact."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise bad_request("invalid multipart body")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: JSON = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', headers)
        if name is None:
            continue
        filename = re.search(r'\bfilename="([^"]*)"', headers)
        ctype = re.search(r"(?im)^content-type:\s*(\S+)", headers)
        if filename is None:
            fields[name.group(1)] = content.decode("utf-8")
        else:
            files[name.group(1)] = UploadedFile(
                filename=unquote(filename.group(1)),
                content=content,
                content_type=ctype.group(1) if ctype else "application/octet-stream",
            )
    return fields, files


def check_reply_markup(markup: Any) -> JSON | None:
    """Validate an inline keyboard like Telegram does; return the markup to record."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(?i)(https?|tg)://\S+$", str(url)):
                raise bad_request("BUTTON_URL_INVALID")
    return markup


def decode_body(query: str, body: bytes, content_type: str) -> tuple[JSON, dict[str, UploadedFile]]:
    """Return the parameters of an HTTP request: query string, then JSON, form or multipart."""
    raw: JSON = {key: values[-1] for key, values in parse_qs(query).items()}
    files: dict[str, UploadedFile] = {}
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return raw, files
    if ctype == "application/json":
        try:
            decoded = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise bad_request("can't parse JSON") from None
        if not isinstance(decoded, dict):
            raise bad_request("JSON object expected")
        raw.update(decoded)
    elif ctype == "multipart/form-data":
        fields, files = parse_multipart(body, content_type)
        raw.update(fields)
    else:
        text = body.decode("utf-8", "replace")
        raw.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    return raw, files
