"""FourierFT (Gao et al., 2024) through peft: train a few spectral coefficients per weight."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import POSITIVE, POSITIVE_INT, ROLES
from bench.models.peft_support import is_gpt2, targets, wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method(
    "fourierft",
    family="reparametrization",
    lr=5e-2,
    defaults={"n_frequency": 1000, "scaling": 150.0, "targets": ("q", "v")},
    rules={"n_frequency": POSITIVE_INT, "scaling": POSITIVE, "targets": ROLES},
    search=("n_frequency", (500, 1000, 2000)),
)
def fourierft(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """The update is the inverse DFT of n trained coefficients at fixed random frequencies."""
    from peft import FourierFTConfig

    return wrap(
        model,
        FourierFTConfig,
        ctx,
        n_frequency=int(settings["n_frequency"]),
        scaling=float(settings["scaling"]),
        random_loc_seed=ctx.seed,
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
    )
