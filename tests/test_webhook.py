"""Webhook mode: `newsbot run` with WEBHOOK_URL registers the webhook with its secret and
answers only requests that carry the secret header."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import SettingsError, get_settings
from tests.fakes.bot_process import bot_env, running_bot
from tests.fakes.telegram_api import FakeTelegram

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


def _wait_listening(url: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            post(url, {}, None)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens at {url}")


def test_webhook_answers_only_with_the_secret(hook: Hook) -> None:
    tg = hook.telegram
    assert tg.webhook == (hook.url, hook.secret)
    _wait_listening(hook.local_url)

    # Without the header, or with a wrong one: 403, and the bot does nothing.
    mark = tg.mark()
    assert post(hook.local_url, start_update(1), None) == 403
    assert post(hook.local_url, start_update(2), "not-the-secret-at-all") == 403
    # With the secret: accepted and answered.
    assert post(hook.local_url, start_update(3), hook.secret) == 200
    tg.wait_for_message(CHAT, "Welcome", since=mark, timeout=15)
    time.sleep(0.5)
    assert len([m for m in tg.messages(CHAT) if m.seq > mark]) == 1
    # Webhook mode never polls.
    assert tg.requests("getUpdates") == []

    hook.process.send_signal(signal.SIGTERM)
    assert hook.process.wait(timeout=15) == 0
    log = hook.log_path.read_text(errors="replace")
    for secret in (tg.token, tg.token.split(":")[1], hook.secret):
        assert secret not in log
    assert "Traceback" not in log


def _run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("secret", "needle"),
    [
        ("short", "WEBHOOK_SECRET: must be 16 to 256 characters"),
        ("has spaces in it, many of them", "WEBHOOK_SECRET: must be"),
    ],
)
def test_webhook_secret_must_be_strong(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str, needle: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    with pytest.raises(SettingsError) as info:
        get_settings()
    assert needle in str(info.value)
    assert secret not in str(info.value)


def test_webhook_without_secret_exits_with_a_settings_error(tmp_path: Path) -> None:
    with FakeTelegram() as telegram:
        env = {**base_env(telegram, tmp_path / "x.db"), "WEBHOOK_URL": "https://bot.example/hook"}
        result = _run(env, tmp_path)
    assert result.returncode == 2
    assert "WEBHOOK_SECRET: is required when WEBHOOK_URL is set" in result.stderr
    assert "Traceback" not in result.stderr
    assert telegram.requests() == []


def test_webhook_url_must_be_https(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WEBHOOK_URL", "http://bot.example/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", "s" * 20)
    with pytest.raises(SettingsError, match="WEBHOOK_URL: must be an https:// URL"):
        get_settings()
