"""The layout holds: no import cycle between modules, no two packages of the engine importing
each other, the engine never imports a method or task module, and only the catalogues (the
built-in suites, the guides' claims, the baseline's name) name a method."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bench.core.plugins import load_builtin_plugins
from bench.core.registry import METHODS

ENGINE = Path(__file__).resolve().parent.parent / "bench"
# What names methods on purpose: the suites shipped with the engine, the guides' claims about
# named methods, LLaMA-Factory's memory table by method, and the one baseline every page
# compares against.
CATALOGUES = {
    "plan/cpu_suites.py",
    "plan/gpu_suites.py",
    "plan/technique_suites.py",
    "report/claims.py",
    "report/placement_claims.py",
    "report/serving_claims.py",
    "predict/llama_factory.py",
    "report/labels.py",
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ENGINE.rglob("*.py"):
        parts = path.relative_to(ENGINE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (lazy ones too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: (_imports(p) & set(modules)) - {m} for m, p in modules.items()}


def test_no_module_imports_itself_back_through_others():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_no_two_packages_import_each_other():
    def package(module: str) -> str:
        return module.split(".")[1] if module.count(".") else module

    arrows = {(package(m), package(d)) for m, deps in _graph().items() for d in deps} - {
        (p, p) for p in map(package, _graph())
    }
    both = sorted({tuple(sorted(a)) for a in arrows if (a[1], a[0]) in arrows})
    assert not both, both


def test_the_engine_never_imports_a_method_or_task_module():
    for module, path in _modules().items():
        named = {n.split(".")[0] for n in _imports(path)}
        assert not named & {"methods", "tasks"}, module


def test_only_the_catalogues_name_a_method():
    load_builtin_plugins()
    names = "|".join(re.escape(n) for n, m in METHODS.items() if m.builtin)
    quoted = re.compile(rf"[\"']({names})[\"']")
    found = []
    for path in ENGINE.rglob("*.py"):
        if str(path.relative_to(ENGINE)) in CATALOGUES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if quoted.fullmatch(repr(node.value)):
                    found.append(f"{path.relative_to(ENGINE)}:{node.lineno}: {node.value}")
    assert not found, found
