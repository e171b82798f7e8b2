"""Decorator registries for methods, tasks and models, and plugin loading."""

from __future__ import annotations

import ast
import difflib
import hashlib
import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bench.core.errors import UnknownName
from bench.core.settings import POSITIVE_INT, Rule, number

T = TypeVar("T")

# Settings every method takes besides its own (bench/regimes/ewc.py): absent unless given, so that
# they change no stored cell's id.
COMMON_SETTINGS = {"ewc_lambda": 0.0, "ewc_samples": 32}
COMMON_RULES = {
    "ewc_lambda": number(lambda v: v >= 0, "a number >= 0"),
    "ewc_samples": POSITIVE_INT,
}


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

    def registered(self) -> list[tuple[str, T]]:
        """Entries in the order they were registered."""
        return list(self._entries.items())


def split_common(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the method's own settings, the common ones with their defaults filled in)."""
    own = {k: v for k, v in settings.items() if k not in COMMON_SETTINGS}
    common = {k: settings.get(k, v) for k, v in COMMON_SETTINGS.items()}
    return own, common


@dataclass(frozen=True)
class MethodInfo:
    """A fine-tuning method: `apply(model, settings, ctx)` returns the model ready to train;
    besides, everything the engine needs to know about it, declared by the method itself."""

    name: str
    family: str
    apply: Callable[..., Any]
    defaults: dict[str, Any]
    lr: float
    supports: tuple[str, ...] = ("encoder", "decoder")
    needs_quantized_base: bool = False
    # Part of its cells' ids when not 1: bump it when a change alters what the method computes.
    version: int | str = 1
    description: str = ""
    # settings, device -> the bitsandbytes base it trains on (bench.models.load_target.Quantization)
    base_quantization: Callable[[dict[str, Any], str], Any] | None = None
    module: str = ""  # the module that registered it (`methods.lora`, a plugin's)
    rules: dict[str, Rule] = field(default_factory=dict)  # each setting's type and range
    search: tuple[str, tuple[Any, ...]] | None = None  # the key setting a search varies
    quantized_bits: int | None = None  # the bits of its frozen base (the estimate counts them)
    no_checkpointing: str | None = None  # why it cannot train under gradient checkpointing
    # On the meta device (parameter counts, estimates): apply it as `meta_method` with
    # `meta_settings` when it reads weight values while building its layers (same shapes), and
    # answer its data-dependent tests with `meta_truth`.
    meta_method: str | None = None
    meta_settings: dict[str, Any] = field(default_factory=dict)
    meta_truth: bool = True
    # peft's disable_adapter() gives back the unchanged base model: a DPO reference without a
    # second copy of the weights (an initialisation that edits the base, PiSSA's, does not)
    base_when_disabled: bool = False

    @property
    def builtin(self) -> bool:
        """Shipped in the `methods` package (not a plugin file)."""
        return self.module.startswith("methods.")

    def rule_for(self, setting: str) -> Rule | None:
        """The declared rule of one of its settings, or of a setting every method takes."""
        return self.rules.get(setting) or COMMON_RULES.get(setting)

    def takes(self, setting: str) -> bool:
        """One of its own settings, or one every method takes."""
        return setting in self.defaults or setting in COMMON_SETTINGS

    def resolve_settings(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults overlaid with `given`; a setting the method does not take is an error."""
        given = dict(given or {})
        unknown = sorted(k for k in given if not self.takes(k))
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
    # Part of its cells' ids when not 1: bump it when a change alters the data it returns.
    version: int | str = 1
    description: str = ""
    size: int | None = None  # examples the loader returns (documented, checked by a test)
    general_text: str = "news_articles"  # the general-text source EWC and forgetting use
    max_new_tokens: int = 32  # generation tasks: greedy decoding length on test prompts
    # a multi-task mixture's tasks (bench.data.mixture): each keeps its own split and head
    components: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """A model: `load(task_kind, num_labels, target=None)` returns (model, tokenizer), the
    model on `target`'s device in its dtype (bench.models.load_target; None: CPU, fp32)."""

    name: str
    source: str
    kind: str
    load: Callable[..., Any]
    description: str = ""
    real_weights: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    positions: int | None = None  # the longest sequence it takes (None: known only at load)

    @property
    def max_positions(self) -> int | None:
        """Its declared positions, or its config's (a `config:` model's)."""
        config = self.extra.get("config") or {}
        found = config.get("max_position_embeddings") or config.get("n_positions")
        return self.positions or found


METHODS: Registry[MethodInfo] = Registry("method")
TASKS: Registry[TaskInfo] = Registry("task")
MODELS: Registry[ModelInfo] = Registry("model")


def register_method(
    name: str,
    *,
    family: str,
    lr: float,
    defaults: dict[str, Any] | None = None,
    rules: dict[str, Rule] | None = None,
    search: tuple[str, tuple[Any, ...]] | None = None,
    supports: tuple[str, ...] = ("encoder", "decoder"),
    needs_quantized_base: bool = False,
    quantized_bits: int | None = None,
    base_quantization: Callable[[dict[str, Any], str], Any] | None = None,
    no_checkpointing: str | None = None,
    meta_method: str | None = None,
    meta_settings: dict[str, Any] | None = None,
    meta_truth: bool = True,
    base_when_disabled: bool = False,
    version: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(model, settings, ctx) -> model` as a method under `name`, with its facts
    (see MethodInfo). A plugin method without a `version` is versioned by its file's code."""

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
                version=version if version is not None else default_version(fn),
                description=doc[0] if doc else "",
                base_quantization=base_quantization,
                module=fn.__module__,
                rules=dict(rules or {}),
                search=search,
                quantized_bits=quantized_bits,
                no_checkpointing=no_checkpointing,
                meta_method=meta_method,
                meta_settings=dict(meta_settings or {}),
                meta_truth=meta_truth,
                base_when_disabled=base_when_disabled,
            ),
        )
        return fn

    return decorator


def default_version(fn: Callable[..., Any]) -> int | str:
    """1 for the shipped methods and tasks (their versions are pinned by a test), else a hash
    of the code of the plugin file that defines `fn`, so that editing it makes new cells."""
    if fn.__module__.split(".")[0] in ("methods", "tasks"):
        return 1
    try:
        source = inspect.getsource(inspect.getmodule(fn))
    except (OSError, TypeError):  # no file to read (code made at run time): its bytecode
        return "code-" + hashlib.sha256(fn.__code__.co_code).hexdigest()[:8]
    return "code-" + code_fingerprint(source)[:8]


def code_fingerprint(source: str) -> str:
    """A hash of what Python code does: docstrings, comments and layout left out."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(tree).encode()).hexdigest()[:16]


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
    version: int | None = None,
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
                version=version if version is not None else default_version(fn),
                description=doc[0] if doc else "",
                size=size,
                general_text=general_text,
                max_new_tokens=max_new_tokens,
            ),
        )
        return fn

    return decorator


def register_model(
    name: str,
    *,
    source: str,
    kind: str,
    description: str = "",
    real_weights: bool = True,
    positions: int | None = None,
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
                positions=positions,
            ),
        )
        return fn

    return decorator
