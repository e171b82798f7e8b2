"""What ships per task after training: the saved trainable state, its bytes and what it holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

TRAINED_FILE = "trained.safetensors"  # what a method outside peft ships


def save_shipped(model: nn.Module, folder: Path) -> dict[str, Any]:
    """Save what a task needs beside the base model into `folder`: a peft model's adapter
    (`save_pretrained`: the method's weights and any head it trains), else the trained tensors
    (the whole model for full fine-tuning; tensors tied to one another saved once)."""
    from peft import PeftModel

    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model, PeftModel):
        model.save_pretrained(folder)
        what = "adapter: peft save_pretrained (the method's weights and any trained head)"
    else:
        from safetensors.torch import save_file

        state, buffers = trained_state(model)
        save_file(state, str(folder / TRAINED_FILE))
        params = {p.data_ptr() for p in model.parameters()}
        trained = len(state) - len(buffers)
        if trained == len(params):
            what = "the whole model (every tensor trains)"
        else:
            what = f"the {trained} trained tensors of {len(params)}, whole"
        if buffers:
            kinds = sorted({b.rpartition(".")[2] for b in buffers})
            what += f", and their modules' {len(buffers)} buffers ({', '.join(kinds)})"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {
        "bytes": sum(f.stat().st_size for f in files),
        "what": what,
        "files": [str(f.relative_to(folder)) for f in files],
    }


def trained_state(model: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The trained tensors by state_dict name (tensors tied to one another saved once), and the
    persistent buffers of the modules that hold them (a sparse delta's positions: what a
    rebuilt method could not recompute without the training data), named in the list."""
    trained = {n for n, p in model.named_parameters(remove_duplicate=False) if p.requires_grad}
    owners = {n.rpartition(".")[0] for n in trained}
    state: dict[str, torch.Tensor] = {}
    buffers, seen = [], set()
    for name, value in model.state_dict(keep_vars=True).items():
        is_buffer = name not in trained and name.rpartition(".")[0] in owners
        if (name in trained or (is_buffer and not isinstance(value, nn.Parameter))) and (
            value.data_ptr() not in seen
        ):
            seen.add(value.data_ptr())
            state[name] = value.detach().contiguous().cpu()
            if is_buffer:
                buffers.append(name)
    return state, buffers


def reload_shipped(
    folder: Path, base: Callable[[], nn.Module], rebuilt: Callable[[], nn.Module]
) -> nn.Module:
    """The model made again from a fresh base and what save_shipped wrote alone: peft's
    from_pretrained over `base()` for an adapter; else `rebuilt()` (the base with the method
    applied anew) with the trained tensors loaded over it."""
    if (folder / "adapter_config.json").exists():
        from peft import PeftModel

        return PeftModel.from_pretrained(base(), folder)
    from safetensors.torch import load_file

    model = rebuilt()
    _, unexpected = model.load_state_dict(load_file(str(folder / TRAINED_FILE)), strict=False)
    if unexpected:
        raise RuntimeError(f"the shipped tensors name what the rebuilt model lacks: {unexpected}")
    return model
