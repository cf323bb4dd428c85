"""`python -m bot shell` as a process, driven through its standard input and output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ADMIN = 999


def shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    drop = {"FEEDS", "ADMIN_IDS", "TELEGRAM_BOT_TOKEN", "DATABASE_URL", "LOG_LEVEL", "NO_COLOR"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'newsbot.db'}",
        SAMPLE_INTERVAL_SECONDS="0.5",
        ADMIN_IDS=str(ADMIN),
        **extra,
    )
    return env


class ShellProcess:
    """`python -m bot shell` with its output collected line by line."""

    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "shell"],
            cwd=tmp_path,
            env=shell_env(tmp_path, **settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self._new = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with self._new:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._new.notify_all()

    def send(self, line: str) -> int:
        """Type a line; return the output position before it."""
        mark = len(self.lines)
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()
        return mark

    def wait_for(self, pattern: str, *, since: int = 0, timeout: float = 15) -> str:
        """Wait for an output line matching the regex; return it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for line in self.lines[since:]:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    shown = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no line matching {pattern!r}; output:\n{shown}")
                self._new.wait(min(remaining, 0.2))

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
