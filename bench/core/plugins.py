"""Loading what registers itself: the built-in methods, tasks and model sources, and
plugin files a user names. The one place that imports `methods/` and `tasks/` (by name)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

from bench.core.errors import PluginError

_BUILTINS_LOADED = False


def load_builtin_plugins() -> None:
    """Import every module of `methods/` and `tasks/` once. (The model sources register
    where they are defined, bench.models.sources, which every reader of them imports.)"""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for package_name in ("methods", "tasks"):
        package = importlib.import_module(package_name)
        found = [info.name for info in pkgutil.iter_modules(package.__path__)]
        declared = list(getattr(package, "__all__", ()))  # the order entries register in
        for name in declared + sorted(set(found) - set(declared)):
            importlib.import_module(f"{package_name}.{name}")


def declared_rank(module: str) -> int:
    """Where a built-in module stands in its package's declared `__all__` (last if absent)."""
    package_name, _, name = module.partition(".")
    declared = list(getattr(sys.modules.get(package_name), "__all__", ()))
    return declared.index(name) if name in declared else len(declared)


def load_plugin_file(path: str | Path) -> None:
    """Run a Python file that registers methods or tasks (only when a user names it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"plugin file {str(path)!r} does not exist")
    module_name = f"ftbench_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load plugin file {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a plugin's own error, reported with its file, not a traceback
        del sys.modules[module_name]
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise PluginError(
            f"plugin file {str(path)!r} failed to load{where}: {type(exc).__name__}: {exc}"
        ) from exc
