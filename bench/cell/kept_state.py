"""Trained models that outlive their cell: a cell's trained tensors (the method's state, or the
whole model where every tensor trains) kept in a content-addressed file in a folder beside the
store, named in the cell's record, and a model rebuilt from its spec and that file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

STATES_ENV = "FTBENCH_KEEP_STATES"  # the folder a run keeps its cells' states in (--keep-states)


def states_folder(store_path: str | Path) -> Path:
    """Where the states of a store's cells are kept: `states/` beside the store file."""
    return Path(store_path).resolve().parent / "states"


def keep_state(model: nn.Module, folder: Path) -> dict[str, Any]:
    """Write the model's trained tensors (bench.serve.shipped.trained_state: tied tensors once,
    with the buffers a rebuilt method cannot recompute) as safetensors named by their SHA-256;
    a state kept before is not written twice. The record's entry: file, hash, bytes, tensors."""
    from safetensors.torch import save

    from bench.serve.shipped import trained_state

    state, buffers = trained_state(model)
    blob = save(state)
    digest = hashlib.sha256(blob).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:32]}.safetensors"
    if not path.exists():
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(blob)
        partial.replace(path)  # atomic: a crash leaves no half-written state under its name
    return {
        "file": path.name,
        "sha256": digest,
        "bytes": len(blob),
        "tensors": len(state),
        "buffers": len(buffers),
    }


def load_state(folder: Path, kept: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors a record's `kept_state` names, refused when the file is missing or its
    bytes no longer hash to what the record says."""
    from safetensors.torch import load

    path = folder / kept["file"]
    if not path.exists():
        raise FileNotFoundError(f"kept state {path} is missing (the record names it)")
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != kept["sha256"]:
        raise ValueError(
            f"kept state {path} hashes to {digest[:16]}, the record says "
            f"{kept['sha256'][:16]}: the file changed since the cell kept it"
        )
    return load(blob)


def rebuilt(spec: Any, state: dict[str, torch.Tensor]) -> tuple[Any, Any]:
    """The cell's model made again without training: its setup and loaded cell (the base with
    the method applied, as the cell built it from its seed) with the kept tensors over it."""
    from bench.cell.load import load_and_apply
    from bench.cell.setup import resolve

    setup = resolve(spec)
    torch.manual_seed(spec.seed)  # a `config:` model's random weights, as the cell drew them
    loaded = load_and_apply(setup)
    missing_in_model = set(state) - set(loaded.model.state_dict())
    if missing_in_model:
        raise ValueError(
            f"the kept state of {spec.label()} names tensors its rebuilt model lacks: "
            f"{sorted(missing_in_model)[:3]}"
        )
    loaded.model.load_state_dict(state, strict=False)
    return setup, loaded
