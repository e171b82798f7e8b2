"""Bottleneck adapters, ours (peft has none): Houlsby (attention + MLP) and Pfeiffer (MLP only)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext, is_head_parameter, train_only
from bench.core.registry import register_method
from bench.core.settings import POSITIVE_INT, one_of
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

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.up(self.act(self.down(x)))

    class WithAdapter(nn.Module):
        """A frozen projection followed by a trained bottleneck adapter on its output."""

        def __init__(self, base: nn.Module, adapter: Bottleneck) -> None:
            super().__init__()
            self.base = base
            self.adapter = adapter

        def forward(self, *args: object, **kwargs: object) -> torch.Tensor:
            return self.adapter(self.base(*args, **kwargs))

    return Bottleneck, WithAdapter


def _out_width(module: nn.Module) -> int:
    from torch import nn

    if isinstance(module, nn.Linear):
        return module.out_features
    if type(module).__name__ == "Conv1D":  # GPT-2
        return module.nf
    raise ValueError(f"cannot place an adapter after a {type(module).__name__}")


def add_adapters(
    model: nn.Module, roles: tuple[str, ...], settings: dict, ctx: MethodContext
) -> nn.Module:
    """Wrap the modules the roles name; train the adapters and the head only."""
    activation = settings["activation"]
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"adapter activation {activation!r} is not one of {', '.join(ACTIVATIONS)}"
        )
    reduction = int(settings["reduction_factor"])
    bottleneck_cls, with_adapter_cls = adapter_modules()
    names = resolve_targets(model, roles)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        base = getattr(parent, child)
        width = _out_width(base)
        adapter = bottleneck_cls(width, max(1, width // reduction), activation)
        adapter.to(device=next(base.parameters()).device, dtype=next(base.parameters()).dtype)
        setattr(parent, child, with_adapter_cls(base, adapter))
    return train_only(model, lambda n, p: ".adapter." in n or is_head_parameter(n, ctx.head_names))


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
