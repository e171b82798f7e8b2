"""Many tasks served from one base: N copies of the cell's adapter loaded at once under their
own names (peft's multi-adapter model), switched per request or mixed in one batch, against N
separate models. The copies stand for N tasks' adapters: they cost what N trained ones cost."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.serve.latency import Call
from bench.serve.merge import output_agreement

TASKS = 4
BASE_ROWS = "__base__"  # peft's name, in a mixed batch, for rows served by the base alone
TOLERANCE = 1e-4  # largest logit change for a mixed batch to count as serving each row right


def tensor_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers, each storage counted once."""
    seen: dict[int, int] = {}
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        seen[tensor.data_ptr()] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def _mixed_check(
    multi: nn.Module, trained: torch.Tensor, batch: dict[str, torch.Tensor], name: str
) -> dict[str, Any]:
    """One batch whose rows alternate between the base alone and one task: each row's logits
    against the base's and the trained model's (`trained`: its logits on the batch). A tuner
    that ignores peft's `adapter_names` serves every row with the active adapter, and the base
    rows show it."""
    rows = int(batch["input_ids"].shape[0])
    names = [BASE_ROWS if i % 2 == 0 else name for i in range(rows)]
    with multi.disable_adapter():
        base = multi(**batch).logits
    expected = torch.where(
        torch.tensor([n == BASE_ROWS for n in names], device=base.device)[:, None],
        base,
        trained,
    )
    got = multi(**batch, adapter_names=names).logits
    return output_agreement(expected.float().cpu(), got.float().cpu())


@torch.no_grad()
def many_tasks_stage(
    trained: nn.Module,
    folder: Path,
    base: Callable[[], nn.Module],
    separate: nn.Module,
    batch: dict[str, torch.Tensor],
    device: torch.device,
) -> tuple[dict[str, Any], dict[str, Call]]:
    """`folder`: the adapter save_shipped wrote; `separate`: the model one task would serve
    alone (merged where it merges); `batch`: a serving batch. Returns the record (bytes of the
    shared model and of N separate ones, whether switching and a mixed batch give each task
    its own outputs) and the calls to time beside the stage's others."""
    from peft import PeftModel

    if not isinstance(trained, PeftModel):
        return {
            "how": "none: the method's trained tensors are the model's own, one model per task",
            "bytes_separate": TASKS * tensor_bytes(separate),
            "tasks": TASKS,
        }, {}
    names = [f"task{i}" for i in range(TASKS)]
    multi = PeftModel.from_pretrained(base(), folder, adapter_name=names[0])
    for name in names[1:]:
        multi.load_adapter(folder, adapter_name=name)
    multi.to(device).eval()
    record: dict[str, Any] = {
        "how": f"peft: {TASKS} adapters on one base (load_adapter), set_adapter per request",
        "tasks": TASKS,
        "bytes_one_base": tensor_bytes(multi),
        "bytes_separate": TASKS * tensor_bytes(separate),
    }
    expected = trained(**batch).logits
    multi.set_adapter(names[-1])
    record["switched"] = output_agreement(
        expected.float().cpu(), multi(**batch).logits.float().cpu()
    )
    turn = itertools.cycle(names)

    def switching(request: dict[str, torch.Tensor]) -> Any:
        multi.set_adapter(next(turn))
        return multi(**request)

    calls: dict[str, Call] = {"switching": switching}
    try:
        mixed = _mixed_check(multi, expected, batch, names[0])
    except Exception as exc:  # peft refuses adapter_names for some tuners: said
        record["mixed"] = {"supported": False, "why": f"{type(exc).__name__}: {exc}"}
        return record, calls
    right = mixed["max_abs_logit_diff"] <= TOLERANCE and mixed["flipped"] == 0
    record["mixed"] = {"supported": right, **mixed}
    if not right:
        record["mixed"]["why"] = "adapter_names ignored: rows meant for the base got a task's"
        return record, calls
    multi.set_adapter(names[0])

    def mixed_batch(request: dict[str, torch.Tensor]) -> Any:
        rows = int(request["input_ids"].shape[0])
        return multi(**request, adapter_names=[next(turn) for _ in range(rows)])

    calls["mixed batch"] = mixed_batch
    return record, calls
