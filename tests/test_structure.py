"""The shape of the code: imports point one way, every command has a rule, nothing sprawls.

Read from the source with ``ast`` (nothing is imported to find imports), so an import hidden
inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

from telegram.ext import ApplicationBuilder, CommandHandler

from handlers import registry
from handlers.access import CommandRule

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
# A function may run longer when a comment in it starts with this and says why.
LONG_MARK = "# long:"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own modules is not a circle of the design.
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles() -> None:
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_imports_point_one_way() -> None:
    for module, imported in _graph().items():
        layer = module.split(".")[0]
        if layer == "storage":
            assert not {m for m in imported if m.split(".")[0] in ("bot", "handlers")}, module
        if layer == "bot" and module not in ("bot.app", "bot.__main__"):
            assert not {m for m in imported if m.startswith("handlers")}, module
        if module.startswith("bot.market"):
            assert not {m for m in imported if not m.startswith("bot.market")}, module


def test_every_command_has_a_rule_and_every_handler_a_command() -> None:
    for spec in registry.COMMANDS:
        assert isinstance(spec.rule, CommandRule), spec.name
    assert len(registry.BY_NAME) == len(registry.COMMANDS), "a command is registered twice"
    public = {spec.name for spec in registry.COMMANDS if spec.rule.is_public}
    assert public == {"start", "help", "language"}
    application = ApplicationBuilder().token("123456:TEST-token-abcdefghijklmnopqrstuvwxyz").build()
    registry.install(application)
    installed = {
        command
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }
    assert installed == set(registry.BY_NAME)


def _long_functions(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = lines[node.lineno - 1 : node.end_lineno]
            if len(body) > MAX_FUNCTION_LINES and not any(LONG_MARK in line for line in body):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({len(body)})")
    return found


def test_modules_and_functions_stay_small() -> None:
    big = [
        f"{path.relative_to(ROOT)} ({count})"
        for path in _modules().values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert big == [], f"modules over {MAX_MODULE_LINES} lines"
    long = [entry for path in _modules().values() for entry in _long_functions(path)]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines without a {LONG_MARK!r} reason"
