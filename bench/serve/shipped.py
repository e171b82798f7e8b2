"""What ships per task after training: the saved trainable state, its bytes and what it holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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

        state, seen = {}, set()
        params = list(model.named_parameters(remove_duplicate=False))
        for name, param in params:
            if param.requires_grad and param.data_ptr() not in seen:
                seen.add(param.data_ptr())
                state[name] = param.detach().contiguous().cpu()
        save_file(state, str(folder / TRAINED_FILE))
        if all(p.requires_grad for _, p in params):
            what = "the whole model (every tensor trains)"
        else:
            total = len({p.data_ptr() for _, p in params})
            what = f"the {len(state)} trained tensors of {total}, whole"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {
        "bytes": sum(f.stat().st_size for f in files),
        "what": what,
        "files": [str(f.relative_to(folder)) for f in files],
    }


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
