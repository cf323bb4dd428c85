"""The package's shape: data flows one way through bot/, and every file stays readable.

Layers, lowest first (a module may import its own layer and the ones below, never above):

0. pure core: settings, feeds (HTTP at the edge, parsing, identity, OPML, poll policy),
   topics, summaries, stories, the Bot API emulator core, log and metric primitives
1. storage: bot.db
2. ingest and services: bot.ingest, bot.services
3. the door and the chat side: bot.delivery, bot.handlers, bot.jobs
4. wiring and front ends: bot.app, bot.cli, bot.shell, bot.ops (health, standby, webhook)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
MAX_LINES = 500

# Longest matching prefix wins.
LAYERS: dict[str, int] = {
    "bot": 0,
    "bot.config": 0,
    "bot.feeds": 0,
    "bot.topics": 0,
    "bot.summaries": 0,
    "bot.stories": 0,
    "bot.emulator": 0,
    "bot.ops.logs": 0,
    "bot.ops.metrics": 0,
    "bot.db": 1,
    "bot.ingest": 2,
    "bot.services": 2,
    "bot.delivery": 3,
    "bot.handlers": 3,
    "bot.jobs": 3,
    "bot.app": 4,
    "bot.cli": 4,
    "bot.shell": 4,
    "bot.ops": 4,
    "bot.__main__": 4,
}
# Same-layer imports that would make the flow run backwards.
FORBIDDEN = {
    ("bot.delivery", "bot.handlers"),
    ("bot.delivery", "bot.jobs"),
    ("bot.ingest", "bot.services"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_key(module: str) -> str:
    best = ""
    for key in LAYERS:
        if (module == key or module.startswith(key + ".")) and len(key) > len(best):
            best = key
    assert best, module
    return best


def top(module: str) -> str:
    """Return the part of bot/ by folder: bot.delivery.door -> bot.delivery."""
    return ".".join(module.split(".")[:2])


def package_of(module: str) -> str:
    """Return the part of bot/ a module belongs to (bot.db, bot.ops.metrics, ...)."""
    key = layer_key(module)
    return key if key != "bot" else module


def bot_imports(path: Path) -> set[str]:
    """Return the bot modules a file imports (the module, or the package's submodule)."""
    modules = {module_name(p) for p in BOT.rglob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bot" or node.module.startswith("bot."):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "bot")
    return found


def sources() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def test_nothing_imports_upward() -> None:
    wrong = []
    for path in sources():
        here = module_name(path)
        mine = LAYERS[layer_key(here)]
        for target in bot_imports(path):
            theirs = LAYERS[layer_key(target)]
            if theirs > mine:
                wrong.append(f"{here} (layer {mine}) imports {target} (layer {theirs})")
            if (top(here), top(target)) in FORBIDDEN:
                wrong.append(f"{here} imports {target} (the flow runs the other way)")
    assert wrong == []


def test_no_import_cycles_between_parts() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sources():
        here = package_of(module_name(path))
        for target in bot_imports(path):
            there = package_of(target)
            if there != here and there != "bot":
                graph[here].add(there)
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_handlers_never_touch_the_database() -> None:
    wrong = [
        f"{module_name(path)} imports {target}"
        for path in sources()
        if module_name(path).startswith(("bot.handlers", "bot.jobs"))
        for target in bot_imports(path)
        if target == "bot.db" or target.startswith("bot.db.")
    ]
    assert wrong == []


def test_no_source_file_over_500_lines() -> None:
    long = {
        str(p.relative_to(BOT.parent)): n
        for p in sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_test_module_imports_another() -> None:
    tests = Path(__file__).resolve().parent
    wrong = []
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            wrong += [f"{path.name}: {n}" for n in names if n.startswith("tests.test_")]
    assert wrong == []
