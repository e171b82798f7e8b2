"""Progressive (gradual) unfreezing, top layers first (ULMFiT): the method's trainable
parameters are grouped by transformer block; the head and everything above the blocks train
from the first step, one more block below joins every `every` optimizer steps, the embeddings
last."""

from __future__ import annotations

import re
from typing import Any

from torch import nn

# "encoder.layer.3.", "model.layers.3.", "transformer.h.3.", "blocks.3.": a block's index
_BLOCK = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")


def block_index(name: str) -> int | None:
    """The transformer block a parameter name belongs to (None: not in a block)."""
    match = _BLOCK.search(name)
    return int(match.group(1)) if match else None


def unfreezing_stages(model: nn.Module) -> list[list[str]]:
    """The trainable parameter names in the order they join: first everything above the
    blocks (head, pooler, final norm), then the blocks from the top down, the embeddings last."""
    top: list[str] = []
    blocks: dict[int, list[str]] = {}
    bottom: list[str] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        index = block_index(name)
        if index is not None:
            blocks.setdefault(index, []).append(name)
        elif "embed" in name or "wte" in name or "wpe" in name:
            bottom.append(name)
        else:
            top.append(name)
    stages = [top] if top else []
    stages += [blocks[i] for i in sorted(blocks, reverse=True)]
    return stages + ([bottom] if bottom else [])


class ProgressiveUnfreezing:
    """`release()`, then build the optimizer over every parameter the method made trainable;
    `start()` freezes all but the first stage (a frozen parameter gets no gradient, which AdamW
    skips); `step(n)` after optimizer step n lets stages 1 .. 1 + n // every train."""

    def __init__(self, model: nn.Module, every: int) -> None:
        if every < 1:
            raise ValueError(f"progressive unfreezing every {every} steps: must be >= 1")
        self.every = every
        self.stages = unfreezing_stages(model)
        self._params = dict(model.named_parameters())
        self.active = 0
        self.joined_at: list[int] = []

    def release(self) -> None:
        """Every stage trainable again (before the optimizer is built over them)."""
        for stage in self.stages:
            for name in stage:
                self._params[name].requires_grad_(True)

    def start(self) -> None:
        for i, stage in enumerate(self.stages):
            for name in stage:
                self._params[name].requires_grad_(i == 0)
        self.active = 1
        self.joined_at = [0]

    def step(self, step: int) -> None:
        wanted = min(len(self.stages), 1 + step // self.every)
        while self.active < wanted:
            for name in self.stages[self.active]:
                self._params[name].requires_grad_(True)
            self.active += 1
            self.joined_at.append(step)

    def summary(self) -> dict[str, Any]:
        """What the record keeps: the schedule and at which step each stage joined."""
        return {
            "every": self.every,
            "stages": len(self.stages),
            "stage_sizes": [len(s) for s in self.stages],
            "joined_at_step": self.joined_at,
            "all_trained_from_step": (
                self.joined_at[-1] if self.active == len(self.stages) else None
            ),
        }
