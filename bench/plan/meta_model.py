"""Exact parameter counts of model x method on the meta device: from a config, no weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch

from bench.core.errors import UnknownName
from bench.core.method_api import MethodContext
from bench.core.registry import METHODS, MODELS
from bench.meters.param_counts import count_parameters
from bench.models.sources import build_from_config, config_path, head_module_names, model_kind


def config_name(model: str) -> str:
    """`llama-2-7b` -> `Llama-2-7B`: the shipped spelling; other names as given."""
    name = model.removeprefix("config:").removeprefix("packaged:")
    try:
        return model if name.endswith(".json") else config_path(name).stem
    except UnknownName:
        return model


def config_for(model: str) -> dict[str, Any]:
    """The config of a shipped name, a registered model, `config:NAME`, a .json path, or
    `hub:ORG/NAME` where NAME is shipped (`hub:FacebookAI/roberta-base`)."""
    name = model.removeprefix("config:").removeprefix("packaged:")
    if name.startswith("hub:"):  # a hub model whose architecture ships here: its config
        name = name.removeprefix("hub:").rsplit("/", 1)[-1]
    try:
        return json.loads(config_path(name).read_text())
    except UnknownName as exc:
        if model in MODELS and MODELS.get(model).extra.get("config"):
            return dict(MODELS.get(model).extra["config"])
        raise UnknownName(f"{exc} (or pass config:PATH.json)") from None


@dataclass
class BuiltOnMeta:
    """A model with a method applied, on the meta device (no weight materialised)."""

    model: torch.nn.Module
    heads: list[str]
    config: Any
    task_kind: str
    settings: dict[str, Any]  # the method's resolved settings
    base_ids: set[int]  # ids of the parameters the model had before the method


def base_on_meta(
    model: str,
    task_kind: str,
    num_labels: int,
    dtype: torch.dtype | None = None,
    config_changes: dict[str, Any] | None = None,
) -> torch.nn.Module:
    """`model`'s architecture alone, frozen, on the meta device (DPO's reference copy)."""
    from transformers import AutoConfig

    raw = {**config_for(model), **(config_changes or {})}
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    with torch.device("meta"):
        net = build_from_config(config, task_kind, num_labels)
        if dtype is not None:
            net = net.to(dtype)
    net.eval()
    return net.requires_grad_(False)


def build_on_meta(
    model: str,
    method: str,
    settings: dict[str, Any] | None = None,
    task_kind: str | None = "classification",
    num_labels: int = 2,
    dtype: torch.dtype | None = None,
    config_changes: dict[str, Any] | None = None,
) -> BuiltOnMeta:
    """`model`'s architecture in `dtype` with `method` applied, on the meta device.
    `task_kind` None: generation for decoders, classification for encoders;
    `config_changes` overrides config fields (a shallower stack, say)."""
    from transformers import AutoConfig

    info = METHODS.get(method)
    resolved = info.resolve_settings(settings)
    raw = {**config_for(model), **(config_changes or {})}
    model_type = raw.pop("model_type")
    config = AutoConfig.for_model(model_type, **raw)
    kind = model_kind(config)
    if kind not in info.supports:
        raise ValueError(
            f"method {method!r} supports {', '.join(info.supports)} models, {model!r} is a {kind}"
        )
    task_kind = task_kind or ("generation" if kind == "decoder" else "classification")
    with torch.device("meta"):
        net = build_from_config(config, task_kind, num_labels)
        if dtype is not None:
            net = net.to(dtype)
        base_ids = {id(p) for p in net.parameters()}
        heads = head_module_names(net)
        ctx = MethodContext(
            model_kind=kind,
            task_kind=task_kind,
            head_names=heads,
            seed=0,
            total_steps=1000,
            device="meta",
        )
        # a method that reads weight values (SVD, QR, magnitudes, quantisation) while it builds
        # its layers declares what to build instead on meta: the same shapes
        info = METHODS.get(method)
        apply_as = METHODS.get(info.meta_method or method)
        shape_settings = {**resolved, **info.meta_settings}
        kept = {k: v for k, v in shape_settings.items() if k in apply_as.defaults}
        try:
            net = apply_as.apply(net, apply_as.resolve_settings(kept), ctx)
        except (RuntimeError, NotImplementedError) as exc:
            if "meta" not in str(exc):
                raise
            raise ValueError(
                f"{method} reads weight values while it builds its layers, so it cannot be "
                f"built on the meta device ({exc})"
            ) from exc
    return BuiltOnMeta(net, heads, config, task_kind, resolved, base_ids)


def count_on_meta(
    model: str,
    method: str,
    settings: dict[str, Any] | None = None,
    task_kind: str = "classification",
    num_labels: int = 2,
) -> dict[str, Any]:
    """Trainable (method and head apart) and total parameters; no weight is materialised."""
    built = build_on_meta(model, method, settings, task_kind, num_labels)
    counts = count_parameters(built.model, built.heads)
    return {
        "model": model,
        "method": method,
        "settings": built.settings,
        "task_kind": task_kind,
        "num_labels": num_labels,
        **counts,
    }
