"""Small builders shared by the tests."""

from __future__ import annotations

from bench.core.registry import METHODS
from bench.core.spec import CellSpec, freeze_settings


def tiny_cell(method: str = "full", model: str = "tiny-bert", seed: int = 0, **budget) -> CellSpec:
    """A cell on the synthetic task that trains in a second or two on the CPU."""
    info = METHODS.get(method) if method in METHODS else None
    lr = budget.pop("lr", info.lr if info else 1e-3)
    fields = {
        "train_size": 200,
        "max_length": 32,
        "batch_size": 16,
        "max_steps": 4,
        "epochs": 1.0,
        **budget,
    }
    return CellSpec(
        model=model,
        task="synthetic_rule",
        method=method,
        seed=seed,
        settings=freeze_settings(info.resolve_settings({}) if info else {}),
        lr=lr,
        method_version=info.version if info else 1,
        **fields,
    )
