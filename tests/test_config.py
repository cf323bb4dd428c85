"""Settings: typed, defaults documented, clear errors without tracebacks or secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, get_settings

GOOD_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    s = get_settings()
    assert s.database_url == "sqlite:///newsbot.db"
    assert s.poll_interval_seconds == 120
    assert s.feeds == [] and s.admin_ids == []
    assert s.allow_private_networks is False
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"


def test_lists_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FEEDS", " https://a.example/rss , https://b.example/atom,https://a.example/rss"
    )
    monkeypatch.setenv("ADMIN_IDS", "42, 7")
    s = get_settings()
    assert s.feeds == ["https://a.example/rss", "https://b.example/atom"]
    assert s.admin_ids == [42, 7]


def test_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("POLL_INTERVAL_SECONDS=2\nLOG_LEVEL=debug\n")
    s = get_settings()
    assert s.poll_interval_seconds == 2 and s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("POLL_INTERVAL_SECONDS", "0", "POLL_INTERVAL_SECONDS"),
        ("POLL_INTERVAL_SECONDS", "soon", "POLL_INTERVAL_SECONDS"),
        ("ADMIN_IDS", "42,bob", "ADMIN_IDS"),
        ("FEEDS", "ftp://x.example/feed", "FEEDS"),
        ("ALLOW_PRIVATE_NETWORKS", "perhaps", "ALLOW_PRIVATE_NETWORKS"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
    ],
)
def test_bad_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        get_settings()
    assert needle in str(info.value)


def test_token_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match=r"TELEGRAM_BOT_TOKEN is not set.*@BotFather"):
        get_settings().bot_token()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    with pytest.raises(SettingsError, match="does not look like a bot token") as info:
        get_settings().bot_token()
    assert "not-a-token" not in str(info.value)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", GOOD_TOKEN)
    assert get_settings().bot_token() == GOOD_TOKEN
    assert GOOD_TOKEN not in repr(get_settings())


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def _env(**extra: str) -> dict[str, str]:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {n.upper() for n in Settings.model_fields}
    }
    env.update(extra)
    return env


def test_run_without_token_exits_2(tmp_path: Path) -> None:
    result = _run("run", env=_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "@BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_with_malformed_token_exits_2(tmp_path: Path) -> None:
    result = _run("run", env=_env(TELEGRAM_BOT_TOKEN="12345:short"), cwd=tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr
    assert "12345:short" not in result.stderr


def test_bad_setting_on_cli(tmp_path: Path) -> None:
    result = _run("migrate", env=_env(POLL_INTERVAL_SECONDS="-3"), cwd=tmp_path)
    assert result.returncode == 2
    assert "POLL_INTERVAL_SECONDS" in result.stderr and "Traceback" not in result.stderr


def test_migrate_and_help(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    result = _run("migrate", env=_env(DATABASE_URL=f"sqlite:///{db}"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert db.exists()
    help_out = _run("--help", env=_env(), cwd=tmp_path)
    assert help_out.returncode == 0
    for command in ("run", "migrate", "summarize"):
        assert command in help_out.stdout


def test_bad_database_url(tmp_path: Path) -> None:
    result = _run("migrate", env=_env(DATABASE_URL="nosuchdb://x"), cwd=tmp_path)
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def _documented(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_env_example_documents_every_setting_with_its_default() -> None:
    documented = _documented(ROOT / ".env.example")
    fields = {name.upper() for name in Settings.model_fields}
    assert set(documented) == fields
    # Loading the example as-is gives the defaults.
    defaults = Settings()
    example = Settings(_env_file=ROOT / ".env.example")  # type: ignore[call-arg]
    assert example.model_dump() == defaults.model_dump()


def test_readme_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [n for n in (f.upper() for f in Settings.model_fields) if f"`{n}`" not in readme]
    assert missing == []


def test_feed_urls_never_echo_their_credentials(tmp_path: Path) -> None:
    feeds = "https://ok.example/a.xml,ftp://alice:s3cret-pw@files.example/feed.xml"
    with pytest.raises(SettingsError) as info:
        get_settings(feeds=feeds)
    message = str(info.value)
    assert "FEEDS" in message and "ftp://***@files.example/feed.xml" in message
    assert "alice" not in message and "s3cret-pw" not in message
    # As the operator sees it: one line on standard error, credentials hidden.
    result = _run("run", env=_env(FEEDS=feeds, TELEGRAM_BOT_TOKEN=GOOD_TOKEN), cwd=tmp_path)
    assert result.returncode != 0 and "FEEDS" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "alice" not in result.stderr + result.stdout
