"""The provider's modules import each other without a circle (lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import dokploy_provider

PACKAGE = "dokploy_provider"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """The package's modules ``tree`` imports at run time, at the top or inside functions."""
    found: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in modules}


def _graph() -> dict[str, set[str]]:
    root = Path(dokploy_provider.__file__).parent
    files = {f"{PACKAGE}.{path.stem}": path for path in root.glob("*.py")}
    files.pop(f"{PACKAGE}.__init__")
    modules = set(files) | {PACKAGE}
    return {
        name: _imports(ast.parse(path.read_text(encoding="utf-8")), modules) - {name, PACKAGE}
        for name, path in files.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a path (first module repeated at the end), or ``[]``."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return []
        path.append(name)
        for target in sorted(graph.get(name, ())):
            found = visit(target)
            if found:
                return found
        path.pop()
        done.add(name)
        return []

    for name in sorted(graph):
        found = visit(name)
        if found:
            return found
    return []


def test_the_import_graph_has_no_circle() -> None:
    assert _cycle(_graph()) == []


def test_the_check_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


#: Issue 13's "rooms of a size one can hold": a module past this is split, not grown.
MAX_MODULE_LINES = 400


def test_no_module_is_larger_than_a_room() -> None:
    root = Path(dokploy_provider.__file__).parent
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in root.glob("*.py")}
    assert sizes, root
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_big, f"split these modules: {too_big}"
