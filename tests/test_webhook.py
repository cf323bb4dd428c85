"""Webhook mode: `newsbot run` with WEBHOOK_URL registers the webhook with its secret and
answers only requests that carry the secret header."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import SettingsError, get_settings
from tests.support.telegram_api import FakeTelegram
from tests.support.webhook import (
    CHAT,
    Hook,
    base_env,
    post,
    start_update,
    wait_listening,
)


def test_webhook_answers_only_with_the_secret(hook: Hook) -> None:
    tg = hook.telegram
    assert tg.webhook == (hook.url, hook.secret)
    wait_listening(hook.local_url)

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
