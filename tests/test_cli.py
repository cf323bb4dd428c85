"""One command line: `newsbot` and `python -m bot` are the same, with a module per subcommand."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import bot.__main__
from bot.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]


def test_newsbot_and_python_m_bot_are_the_same_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["newsbot"].partition(":")
    assert (module, function) == ("bot.cli.main", "main")
    assert bot.__main__.main is cli.main


def test_every_subcommand_module_is_registered() -> None:
    modules = {p.stem for p in (ROOT / "bot" / "cli").glob("*.py")} - {
        "__init__",
        "common",
        "main",
    }
    registered = {c.__name__.rpartition(".")[2] for c in cli.COMMANDS}
    assert registered == modules
    help_text = cli.parser().format_help()
    for name in modules:
        assert f"    {name}" in help_text


def test_help_answers_without_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "send", "--help"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "usage: newsbot send" in done.stdout
    assert "--exit-when-idle" in done.stdout


@pytest.mark.parametrize("lease", ["0.1", "4000"])
def test_send_refuses_a_lease_out_of_range(
    lease: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-")
    assert cli.main(["send", "--lease", lease]) == 2
    assert "newsbot: --lease must be between 0.5 and 3600 seconds" in capsys.readouterr().err


def test_send_without_a_token_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert cli.main(["send"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("newsbot: ") and "TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err
