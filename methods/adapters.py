"""Bottleneck adapters, ours (peft has none): Houlsby (attention + MLP), Pfeiffer (MLP only), and
`bottleneck`, whose placement is a setting (after attention, the feed-forward block or both, or
in parallel to either, scaled)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext, is_head_parameter, train_only
from bench.core.registry import register_method
from bench.core.settings import POSITIVE, POSITIVE_INT, one_of
from bench.models.sources import resolve_targets

if TYPE_CHECKING:
    from torch import nn

ACTIVATIONS = ("relu", "gelu", "swish")  # nn.ReLU, nn.GELU, nn.SiLU


@cache
def adapter_modules() -> tuple[type[nn.Module], type[nn.Module]]:
    """The Bottleneck and WithAdapter classes, defined on first use: listing needs no torch."""
    import torch
    from torch import nn

    activations = {"relu": nn.ReLU, "gelu": nn.GELU, "swish": nn.SiLU}

    class Bottleneck(nn.Module):
        """x + up(act(down(x))); `up` starts at zero so training starts from the base model."""

        def __init__(self, width: int, bottleneck: int, activation: str) -> None:
            super().__init__()
            self.down = nn.Linear(width, bottleneck)
            self.act = activations[activation]()
            self.up = nn.Linear(bottleneck, width)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

        scale = 1.0  # the bottleneck method's `scale`; Houlsby's and Pfeiffer's add it as is

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            branch = self.up(self.act(self.down(x)))
            return x + (branch if self.scale == 1.0 else self.scale * branch)

    class WithAdapter(nn.Module):
        """A frozen projection followed by a trained bottleneck adapter on its output."""

        def __init__(self, base: nn.Module, adapter: Bottleneck) -> None:
            super().__init__()
            self.base = base
            self.adapter = adapter

        def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
            return self.adapter(self.base(*args, **kwargs))

    return Bottleneck, WithAdapter


@cache
def parallel_modules() -> tuple[type[nn.Module], type[nn.Module]]:
    """Tap (keeps a sub-layer's input) and WithParallel (adds a scaled bottleneck of that input
    to the sub-layer's output projection), defined on first use."""
    import torch
    from torch import nn

    class Tap(nn.Module):
        """A frozen projection that keeps its input for the parallel adapter beside it."""

        def __init__(self, base: nn.Module) -> None:
            super().__init__()
            self.base = base
            self.seen: torch.Tensor | None = None

        def forward(self, x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
            self.seen = x
            return self.base(x, *args, **kwargs)

    class WithParallel(nn.Module):
        """out(h) + scale x up(act(down(x))), x the sub-layer's input (He et al., 2022)."""

        def __init__(self, base: nn.Module, adapter: nn.Module, tap: Tap, scale: float) -> None:
            super().__init__()
            self.base, self.adapter, self.scale = base, adapter, scale
            self.tap = [tap]  # a list: the tap is the layer's own module, not a child of this

        def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
            x = self.tap[0].seen
            if x is None:
                raise RuntimeError("the parallel adapter's sub-layer input was not seen")
            self.tap[0].seen = None
            branch = self.adapter.up(self.adapter.act(self.adapter.down(x)))
            return self.base(*args, **kwargs) + self.scale * branch

    return Tap, WithParallel


def _out_width(module: nn.Module) -> int:
    from torch import nn

    if isinstance(module, nn.Linear):
        return module.out_features
    if type(module).__name__ == "Conv1D":  # GPT-2
        return module.nf
    raise ValueError(f"cannot place an adapter after a {type(module).__name__}")


def _bottleneck(base: nn.Module, width: int, settings: dict) -> nn.Module:
    activation = settings["activation"]
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"adapter activation {activation!r} is not one of {', '.join(ACTIVATIONS)}"
        )
    bottleneck_cls, _ = adapter_modules()
    adapter = bottleneck_cls(width, max(1, width // int(settings["reduction_factor"])), activation)
    return adapter.to(device=next(base.parameters()).device, dtype=next(base.parameters()).dtype)


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, module)


def _trained(model: nn.Module, ctx: MethodContext) -> nn.Module:
    return train_only(model, lambda n, p: ".adapter." in n or is_head_parameter(n, ctx.head_names))


def add_adapters(
    model: nn.Module, roles: tuple[str, ...], settings: dict, ctx: MethodContext
) -> nn.Module:
    """Wrap the modules the roles name; train the adapters and the head only."""
    _, with_adapter_cls = adapter_modules()
    for name in resolve_targets(model, roles):
        base = model.get_submodule(name)
        _replace(model, name, with_adapter_cls(base, _bottleneck(base, _out_width(base), settings)))
    return _trained(model, ctx)


def add_parallel_adapters(
    model: nn.Module, source: str, sink: str, settings: dict, ctx: MethodContext
) -> nn.Module:
    """In each block, a bottleneck from the input of the sub-layer whose first projection the
    role `source` names, added (scaled) to the output of its last projection, `sink`."""
    tap_cls, parallel_cls = parallel_modules()
    sources, sinks = resolve_targets(model, (source,)), resolve_targets(model, (sink,))
    if len(sources) != len(sinks):
        raise ValueError(f"{len(sources)} {source} projections but {len(sinks)} {sink} ones")
    for source_name, sink_name in zip(sources, sinks, strict=True):
        tap = tap_cls(model.get_submodule(source_name))
        _replace(model, source_name, tap)
        base = model.get_submodule(sink_name)
        adapter = _bottleneck(base, _out_width(base), settings)
        _replace(model, sink_name, parallel_cls(base, adapter, tap, float(settings["scale"])))
    return _trained(model, ctx)


DEFAULTS = {"reduction_factor": 16, "activation": "relu"}
RULES = {"reduction_factor": POSITIVE_INT, "activation": one_of(*ACTIVATIONS)}
SEARCH = ("reduction_factor", (8, 16, 32))


@register_method(
    "houlsby", family="adapter", lr=1e-3, defaults=DEFAULTS, rules=RULES, search=SEARCH
)
def houlsby(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Adapters after the attention output and after the MLP output (Houlsby et al., 2019)."""
    return add_adapters(model, ("o", "down"), settings, ctx)


@register_method(
    "pfeiffer", family="adapter", lr=1e-3, defaults=DEFAULTS, rules=RULES, search=SEARCH
)
def pfeiffer(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """One adapter after each MLP output (Pfeiffer et al., 2021)."""
    return add_adapters(model, ("down",), settings, ctx)


# Where a bottleneck sits: after the attention output or the feed-forward output (sequential,
# as Houlsby's and Pfeiffer's), after both, or in parallel to either sub-layer (He et al.,
# 2022: its input the sub-layer's input, its scaled output added to the sub-layer's).
PLACEMENTS = {
    "attention": ("o",),
    "ffn": ("down",),
    "both": ("o", "down"),
    "parallel_attention": ("q", "o"),
    "parallel_ffn": ("up", "down"),
}


@register_method(
    "bottleneck",
    family="adapter",
    lr=1e-3,
    defaults={**DEFAULTS, "placement": "both", "scale": 1.0},
    rules={**RULES, "placement": one_of(*PLACEMENTS), "scale": POSITIVE},
    search=SEARCH,
)
def bottleneck(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Bottleneck adapters placed as `placement` says, their output times `scale` (both at
    scale 1: Houlsby's adapters; ffn: Pfeiffer's; He et al. scale a parallel adapter by 4)."""
    placement = settings["placement"]
    if placement.startswith("parallel_"):
        source, sink = PLACEMENTS[placement]
        return add_parallel_adapters(model, source, sink, settings, ctx)
    model = add_adapters(model, PLACEMENTS[placement], settings, ctx)
    for module in model.modules():
        if type(module).__name__ == "Bottleneck":
            module.scale = float(settings["scale"])
    return model
