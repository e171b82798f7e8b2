"""FLOPs and bytes of every op of a traced training step, by phase and op class: what a
roofline turns into time. FLOPs come from torch's own formulas (torch.utils.flop_counter's
registry, as FlopCounterMode counts them); bytes are each op's tensor inputs and outputs, the
traffic of an unfused kernel. Written here because FlopCounterMode keeps FLOPs only, not the
bytes and op counts the memory-bound part of a step needs."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry, sdpa_backward_flop_count, sdpa_flop_count

aten = torch.ops.aten
# The SDPA kernel the estimate routes through on fake and meta tensors (bench.plan.estimate's
# flash_attention) is the CPU flash op, which torch's registry does not list: counted as its
# CUDA twin is.
_CPU_FLASH = aten._scaled_dot_product_flash_attention_for_cpu
_CPU_FLASH_BACKWARD = aten._scaled_dot_product_flash_attention_for_cpu_backward
ATTENTION = {_CPU_FLASH, _CPU_FLASH_BACKWARD}
# Ops that move no data: views, metadata, allocation of uninitialised memory.
FREE = {
    "view",
    "_unsafe_view",
    "reshape",
    "expand",
    "permute",
    "transpose",
    "t",
    "unsqueeze",
    "squeeze",
    "slice",
    "select",
    "as_strided",
    "alias",
    "detach",
    "empty",
    "empty_like",
    "empty_strided",
    "split",
    "split_with_sizes",
    "unbind",
    "_reshape_alias",
    "lift_fresh",
    "_local_scalar_dense",
    "is_nonzero",
}
# Ops that read only part of an argument: an embedding lookup reads the rows it gathers (as
# many bytes as it writes), not the whole table; the NLL backward takes the logits for their
# shape only.
PARTIAL_READS = {"embedding": (0,), "nll_loss_backward": (1,)}


# One entry per phase, op class and arithmetic-intensity bin: [FLOPs, bytes, ops]. Ops of one
# bin have intensities within a factor of 2, so a roofline over the bins is a roofline over the
# ops; JSON-ready, as estimates are stored.
Table = dict[str, dict[str, list[float]]]


def bin_key(klass: str, flops: float, moved: float) -> str:
    """`matmul@5`: the class and floor(log2(FLOPs per byte)), clipped to [-4, 14]."""
    if flops <= 0 or moved <= 0:
        return f"{klass}@-"
    return f"{klass}@{min(14, max(-4, math.floor(math.log2(flops / moved))))}"


def klass_of(key: str) -> str:
    return key.split("@", 1)[0]


def add(table: Table, phase: str, key: str, flops: float, moved: float, ops: float) -> None:
    entry = table.setdefault(phase, {}).setdefault(key, [0.0, 0.0, 0.0])
    entry[0] += flops
    entry[1] += moved
    entry[2] += ops


def totals(table: Table, klass: str | None = None) -> list[float]:
    """[FLOPs, bytes, ops] over every phase, of one class or all."""
    out = [0.0, 0.0, 0.0]
    for entries in table.values():
        for key, values in entries.items():
            if klass is None or klass_of(key) == klass:
                out = [a + b for a, b in zip(out, values, strict=True)]
    return out


def extend(two: Table, three: Table, depth: int) -> Table:
    """Each figure stepped at 2 and 3 blocks, extended linearly to `depth` blocks."""
    out: Table = {}
    for phase in sorted(set(two) | set(three)):
        a, b = two.get(phase, {}), three.get(phase, {})
        for key in sorted(set(a) | set(b)):
            low, high = a.get(key, [0.0, 0.0, 0.0]), b.get(key, [0.0, 0.0, 0.0])
            values = [x + (depth - 2) * (y - x) for x, y in zip(low, high, strict=True)]
            out.setdefault(phase, {})[key] = [max(0.0, v) for v in values]
    return out


def _tensor_bytes(values: Any) -> int:
    return sum(
        t.numel() * t.element_size() for t in tree_flatten(values)[0] if isinstance(t, torch.Tensor)
    )


def _attention_flops(packet: Any, args: tuple) -> int:
    if packet is _CPU_FLASH:
        query, key, value = args[:3]
        return sdpa_flop_count(query.shape, key.shape, value.shape)
    grad_out, query, key, value = args[:4]
    return sdpa_backward_flop_count(grad_out.shape, query.shape, key.shape, value.shape)


class OpCosts(TorchDispatchMode):
    """Counts FLOPs, bytes and ops of everything dispatched inside it into `table`; `phase`
    names what follows (forward, backward, optimizer step)."""

    def __init__(self) -> None:
        super().__init__()
        self.table: Table = {}
        self._phase = "step"

    def phase(self, name: str) -> None:
        self._phase = name

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet.__name__ in FREE:
            return out
        if packet in ATTENTION:
            klass, flops = "attention", _attention_flops(packet, args)
        elif packet in flop_registry:
            klass, flops = "matmul", flop_registry[packet](*args, **kwargs, out_val=out)
        else:
            klass, flops = "memory", 0
        read = args
        skipped = PARTIAL_READS.get(packet.__name__)
        if skipped:
            read = tuple(a for i, a in enumerate(args) if i not in skipped)
        moved = _tensor_bytes((read, kwargs)) + _tensor_bytes(out)
        if packet.__name__ == "embedding":
            moved += _tensor_bytes(out)  # the rows gathered
        add(self.table, self._phase, bin_key(klass, flops, moved), float(flops), float(moved), 1)
        return out
