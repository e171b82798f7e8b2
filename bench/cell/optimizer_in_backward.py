"""The optimizer step in the backward pass: one optimizer per trainable parameter, stepped by a
hook as soon as the parameter's gradient is accumulated, the gradient then freed, so that the
step never holds every gradient at once (torchtune's `optimizer_in_bwd`; torch's own
`_apply_optimizer_in_backward` is private to torch.distributed, so the few lines are here)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn

MakeOptimizer = Callable[[list[dict[str, Any]]], torch.optim.Optimizer]


class OptimizerInBackward:
    """Steps each parameter of `groups` from its post-accumulate-grad hook; `schedulers` holds
    one learning-rate schedule per parameter's optimizer (`make_scheduler` of each); `around`
    gives a context each step runs in (the estimate's accounting)."""

    def __init__(
        self,
        groups: list[dict[str, Any]],
        make: MakeOptimizer,
        make_scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
        around: Callable[[nn.Parameter], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.optimizers: dict[nn.Parameter, torch.optim.Optimizer] = {}
        self._handles = []
        self._around = around
        for group in groups:
            for param in group["params"]:
                self.optimizers[param] = make([{**group, "params": [param]}])
                self._handles.append(param.register_post_accumulate_grad_hook(self._step))
        self.schedulers = (
            [make_scheduler(opt) for opt in self.optimizers.values()] if make_scheduler else []
        )

    def _step(self, param: nn.Parameter) -> None:
        optimizer = self.optimizers[param]
        with self._around(param) if self._around is not None else nullcontext():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    def step_schedules(self) -> None:
        for scheduler in self.schedulers:
            scheduler.step()

    def remove(self) -> None:
        """Unhook every parameter (the optimizers and their states stay)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
