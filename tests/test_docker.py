"""The container files: docker-compose.yml parses and wires the bot to PostgreSQL; the
Dockerfile builds in stages, runs as a non-root user and checks /healthz.

Docker itself may be missing where tests run, so these read the files instead.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_compose_runs_the_bot_on_postgresql_with_a_named_volume() -> None:
    data = compose()
    services = data["services"]
    assert set(services) == {"bot", "db"}
    db, bot = services["db"], services["bot"]
    assert db["image"].startswith("postgres:")
    volume, _, mount = db["volumes"][0].partition(":")
    assert mount == "/var/lib/postgresql/data"
    assert volume in data["volumes"]  # a named volume, not a host path
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])

    assert bot["build"] == "."
    env = bot["environment"]
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://newsbot:")
    assert env["DATABASE_URL"].endswith("@db:5432/newsbot")
    assert db["environment"]["POSTGRES_DB"] == "newsbot"
    assert db["environment"]["POSTGRES_USER"] == "newsbot"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["env_file"] == ".env"
    assert env["METRICS_PORT"] == "9090"
    assert "127.0.0.1:9090:9090" in bot["ports"]
    for service in (bot, db):
        assert service["restart"] == "unless-stopped"


def test_compose_settings_are_real_settings() -> None:
    from bot.config import Settings

    names = {n.upper() for n in Settings.model_fields}
    assert set(compose()["services"]["bot"]["environment"]) <= names


def _stages(text: str) -> list[str]:
    return re.split(r"(?m)^FROM ", text)[1:]


def test_dockerfile_builds_in_stages_and_runs_as_a_user() -> None:
    text = dockerfile()
    stages = _stages(text)
    assert len(stages) == 2
    build, final = stages
    # Dependencies install from pyproject.toml before the source is copied (layer caching).
    assert build.index("COPY pyproject.toml") < build.index("pip install -r")
    assert build.index("pip install -r") < build.index("COPY bot ")
    assert "COPY --from=build /opt/venv /opt/venv" in final
    users = re.findall(r"(?m)^USER (\S+)", final)
    assert users and users[-1] not in ("root", "0")
    assert re.search(rf"useradd .*\b{users[-1]}\b", final)
    assert re.search(r'(?m)^CMD \["newsbot", "run"\]', final)
    instructions = [line for line in text.splitlines() if not line.startswith("#")]
    assert not any(re.search(r"\b(curl|wget)\b", line) for line in instructions)


def test_dockerfile_healthcheck_asks_healthz_with_python() -> None:
    text = dockerfile()
    match = re.search(r"(?ms)^HEALTHCHECK (.*?)CMD (\[.*?\])\s*$", text)
    assert match is not None
    command = yaml.safe_load(match.group(2))  # JSON exec form
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2] and "/healthz" in command[2]
    assert "METRICS_PORT" in command[2]
    compile(command[2], "<healthcheck>", "exec")


def test_dockerfile_requirements_match_pyproject(tmp_path: Path) -> None:
    text = dockerfile()
    run = re.search(r'(?m)^RUN (python -c ".*?") > /tmp/requirements.txt', text)
    assert run is not None
    argv = shlex.split(run.group(1))
    assert argv[:2] == ["python", "-c"]
    out = subprocess.run(
        [sys.executable, "-c", argv[2]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert out.splitlines() == wanted
