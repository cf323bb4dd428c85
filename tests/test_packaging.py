"""What `pip install .` ships: every package of bot/, so a plain install never misses one."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setuptools_config() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    config: dict[str, object] = data["tool"]["setuptools"]
    return config


def test_every_bot_package_is_listed_for_setuptools() -> None:
    listed = setuptools_config()["packages"]
    assert isinstance(listed, list)
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "bot").rglob("__init__.py")
    }
    assert found - set(listed) == set()


def test_every_folder_of_python_code_is_a_package() -> None:
    # A folder without __init__.py would be a namespace package, which the list can't name.
    loose = sorted(
        str(folder.relative_to(ROOT))
        for folder in [ROOT / "bot", *(ROOT / "bot").rglob("*")]
        if folder.is_dir() and any(folder.glob("*.py")) and not (folder / "__init__.py").exists()
    )
    assert loose == []


def test_every_listed_package_exists() -> None:
    config = setuptools_config()
    folders = config["package-dir"]
    assert isinstance(folders, dict)
    for package in config["packages"]:  # type: ignore[attr-defined]
        root = next(
            (name for name in sorted(folders, key=len, reverse=True) if package.startswith(name)),
            None,
        )
        assert root is not None, package
        folder = ROOT / folders[root] / Path(*package.removeprefix(root).split(".")[1:])
        assert (folder / "__init__.py").exists(), package


def test_every_translation_matches_the_package_data() -> None:
    globs = setuptools_config()["package-data"]
    assert isinstance(globs, dict)
    catalogs = sorted((ROOT / "bot" / "locale").glob("*/LC_MESSAGES/*.po"))
    assert len(catalogs) >= 3
    for catalog in catalogs:
        inside = catalog.relative_to(ROOT / "bot")
        assert any(inside.match(pattern) for pattern in globs["bot"]), inside


def test_a_plain_install_ships_the_translations(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); import bot.i18n as i; "
        "assert i.__file__.startswith(sys.argv[1]), i.__file__; "
        "print(i.translator('de').gettext('Read the full story'))"
    )
    found = subprocess.run(
        [sys.executable, "-c", check, str(target)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "Ganze Meldung lesen"
