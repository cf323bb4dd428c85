"""What `pip install .` ships: every package of bot/, so a plain install never misses one."""

from __future__ import annotations

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
