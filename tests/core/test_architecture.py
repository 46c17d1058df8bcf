"""The house's shape, checked: the command-line layer stays on top, modules import without circles,
and each module and function stays a size a newcomer can read."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "lstmcli"
CLI_ONLY = ("typer", "rich", "click", "lstmcli.cli")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
LONGER_ON_PURPOSE = "longer on purpose"  # said in a function's docstring, with the reason


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, name: str) -> set[str]:
    """Every lstmcli module (and third-party top name) `path` imports, at module level or inside a function."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_nothing_outside_the_command_line_layer_imports_typer_rich_or_the_cli():
    offenders = []
    for name, path in modules().items():
        if name in ("lstmcli.cli", "lstmcli.__main__") or name.startswith("lstmcli.cli."):
            continue
        for imported in imports(path, name):
            if any(imported == banned or imported.startswith(banned + ".") for banned in CLI_ONLY):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_the_package_has_no_import_circle():
    known = modules()
    graph = {name: {m for m in imports(path, name) if m in known and m != name} for name, path in known.items()}
    # a package's __init__ importing its own modules is how Python packages work, not a circle
    for name in graph:
        graph[name] = {m for m in graph[name] if not (name.startswith(m + ".") and m != "lstmcli")} - {"lstmcli"}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _docstring_lines(node) -> int:
    """A function's docstring is its documentation, not its length: its lines are not counted."""
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno - first.lineno + 1
    return 0


def test_modules_and_functions_stay_short():
    too_long = []
    for name, path in modules().items():
        text = path.read_text()
        on_purpose = LONGER_ON_PURPOSE in (ast.get_docstring(ast.parse(text)) or "")
        if len(text.splitlines()) > MAX_MODULE_LINES and not on_purpose:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
                if length > MAX_FUNCTION_LINES and LONGER_ON_PURPOSE not in (ast.get_docstring(node) or ""):
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []
