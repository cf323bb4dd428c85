"""A bot process in webhook mode, and the updates and posts the webhook tests send it."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.bot_process import bot_env, running_bot
from tests.support.telegram_api import FakeTelegram

CHAT = 4242
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(telegram: FakeTelegram, db_path: Path) -> dict[str, str]:
    return bot_env(telegram, db_path, LOG_LEVEL="DEBUG")


def start_update(update_id: int, text: str = "/start") -> dict[str, Any]:
    user = {"id": CHAT, "is_bot": False, "first_name": "Ada"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": CHAT, "type": "private", "first_name": "Ada"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


def post(url: str, body: dict[str, Any], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


@dataclass
class Hook:
    telegram: FakeTelegram
    process: subprocess.Popen[bytes]
    url: str
    local_url: str
    secret: str
    log_path: Path


@pytest.fixture
def hook(tmp_path: Path) -> Iterator[Hook]:
    port = free_port()
    path = f"tg/{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(24)
    url = f"https://127.0.0.1:{port}/{path}"
    log_path = tmp_path / "newsbot.log"
    with FakeTelegram() as telegram:
        env = {
            **base_env(telegram, tmp_path / "newsbot.db"),
            "WEBHOOK_URL": url,
            "WEBHOOK_SECRET": secret,
            "WEBHOOK_LISTEN": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
        }

        def ready() -> object:
            return telegram.wait_for(lambda: telegram.webhook[0], timeout=30, what="setWebhook")

        with running_bot(env, cwd=tmp_path, log_path=log_path, ready=ready) as process:
            yield Hook(telegram, process, url, f"http://127.0.0.1:{port}/{path}", secret, log_path)


def wait_listening(url: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            post(url, {}, None)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens at {url}")
