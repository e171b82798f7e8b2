"""Decorator registries for methods, tasks and models, and plugin loading."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from bench.errors import UnknownName

T = TypeVar("T")

# Settings every method takes besides its own (bench/ewc.py): absent unless given, so that
# they change no stored cell's id.
COMMON_SETTINGS = {"ewc_lambda": 0.0, "ewc_samples": 32}


def resolve_name(name: str, valid: Collection[str], kind: str) -> str:
    """`name` as spelled in `valid`: exact, else the one entry equal ignoring case.

    Anything else raises UnknownName naming the nearest valid names and all of them.
    """
    if name in valid:
        return name
    folded = [v for v in valid if v.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    names = sorted(valid)
    by_fold = {v.casefold(): v for v in names}
    near = folded or [
        by_fold[m] for m in difflib.get_close_matches(name.casefold(), by_fold, n=1, cutoff=0.5)
    ]
    hint = f" Did you mean {' or '.join(map(repr, near))}?" if near else ""
    raise UnknownName(f"unknown {kind} {name!r}.{hint} Valid {kind}s: {', '.join(names)}")


class Registry(Generic[T]):
    """Name -> entry; unknown names raise an error that lists the valid ones and the nearest."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def canonical(self, name: str) -> str:
        """The registered spelling of `name` (case-insensitive where unambiguous)."""
        return resolve_name(name, self._entries, self.kind)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())


def split_common(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the method's own settings, the common ones with their defaults filled in)."""
    own = {k: v for k, v in settings.items() if k not in COMMON_SETTINGS}
    common = {k: settings.get(k, v) for k, v in COMMON_SETTINGS.items()}
    return own, common


@dataclass(frozen=True)
class MethodInfo:
    """A fine-tuning method: `apply(model, settings, ctx)` returns the model ready to train."""

    name: str
    family: str
    apply: Callable[..., Any]
    defaults: dict[str, Any]
    lr: float
    supports: tuple[str, ...] = ("encoder", "decoder")
    needs_quantized_base: bool = False
    version: int = 1
    description: str = ""
    # settings, device -> the bitsandbytes base it trains on (bench.load_target.Quantization)
    base_quantization: Callable[[dict[str, Any], str], Any] | None = None

    def resolve_settings(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with `given`; a setting the method does not take is an error."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.defaults) - set(COMMON_SETTINGS))
        if unknown:
            valid = ", ".join(sorted(self.defaults) + sorted(COMMON_SETTINGS))
            raise ValueError(
                f"method {self.name!r} has no setting {', '.join(map(repr, unknown))}; "
                f"its settings are: {valid}"
            )
        return {**self.defaults, **given}


@dataclass(frozen=True)
class TaskInfo:
    """A task: `load()` returns its raw labelled examples; splitting is the harness's job."""

    name: str
    kind: str
    load: Callable[[], Any]
    labels: tuple[str, ...]
    metric: str
    metrics: tuple[str, ...]
    offline: bool = True
    source: str = ""
    val_size: int = 500
    test_size: int = 1000
    version: int = 1
    description: str = ""
    size: int | None = None  # examples the loader returns (documented, checked by a test)
    general_text: str = "news_articles"  # the general-text source EWC and forgetting use
    max_new_tokens: int = 32  # generation tasks: greedy decoding length on test prompts


@dataclass(frozen=True)
class ModelInfo:
    """A model: `load(task_kind, num_labels, target=None)` returns (model, tokenizer), the
    model on `target`'s device in its dtype (bench.load_target; None: CPU, fp32)."""

    name: str
    source: str
    kind: str
    load: Callable[..., Any]
    description: str = ""
    real_weights: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


METHODS: Registry[MethodInfo] = Registry("method")
TASKS: Registry[TaskInfo] = Registry("task")
MODELS: Registry[ModelInfo] = Registry("model")


def register_method(
    name: str,
    *,
    family: str,
    lr: float,
    defaults: dict[str, Any] | None = None,
    supports: tuple[str, ...] = ("encoder", "decoder"),
    needs_quantized_base: bool = False,
    version: int = 1,
    base_quantization: Callable[[dict[str, Any], str], Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(model, settings, ctx) -> model` as a method under `name`."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = (fn.__doc__ or "").strip().splitlines()
        METHODS.add(
            name,
            MethodInfo(
                name=name,
                family=family,
                apply=fn,
                defaults=dict(defaults or {}),
                lr=lr,
                supports=supports,
                needs_quantized_base=needs_quantized_base,
                version=version,
                description=doc[0] if doc else "",
                base_quantization=base_quantization,
            ),
        )
        return fn

    return decorator


def register_task(
    name: str,
    *,
    kind: str,
    labels: tuple[str, ...],
    metric: str,
    metrics: tuple[str, ...] = (),
    offline: bool = True,
    source: str = "",
    val_size: int = 500,
    test_size: int = 1000,
    version: int = 1,
    size: int | None = None,
    general_text: str = "news_articles",
    max_new_tokens: int = 32,
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register a loader `fn() -> RawData` as a task under `name`."""

    def decorator(fn: Callable[[], Any]) -> Callable[[], Any]:
        doc = (fn.__doc__ or "").strip().splitlines()
        TASKS.add(
            name,
            TaskInfo(
                name=name,
                kind=kind,
                load=fn,
                labels=tuple(labels),
                metric=metric,
                metrics=tuple(metrics) or (metric,),
                offline=offline,
                source=source,
                val_size=val_size,
                test_size=test_size,
                version=version,
                description=doc[0] if doc else "",
                size=size,
                general_text=general_text,
                max_new_tokens=max_new_tokens,
            ),
        )
        return fn

    return decorator


def register_model(
    name: str, *, source: str, kind: str, description: str = "", real_weights: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a loader `fn(task_kind, num_labels) -> (model, tokenizer)` under `name`."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        MODELS.add(
            name,
            ModelInfo(
                name=name,
                source=source,
                kind=kind,
                load=fn,
                description=description,
                real_weights=real_weights,
            ),
        )
        return fn

    return decorator


_BUILTINS_LOADED = False


def load_builtin_plugins() -> None:
    """Import every module of `methods/` and `tasks/` (and the model sources) once."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    importlib.import_module("bench.models")
    for package_name in ("methods", "tasks"):
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")


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
    spec.loader.exec_module(module)
