"""The one training loop: AdamW, warm-up + linear/cosine schedule, clipping, AMP, evaluation."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from transformers import get_scheduler

from bench.cell.optimizer_in_backward import OptimizerInBackward
from bench.core.errors import Unsupported
from bench.core.spec import CellSpec
from bench.core.vocab import OPTIMIZERS
from bench.data.mixture import balanced_batch_order, task_loss
from bench.data.splits import Encoded, batch_order, collate, model_inputs, to_device
from bench.meters.speed import StepTimer, synchronize
from bench.models.precision import autocast_for, get_recipe
from bench.regimes.unfreeze import ProgressiveUnfreezing

SCHEDULERS = ("linear", "cosine", "constant")
_SPEC = {f.name: f.default for f in dataclasses.fields(CellSpec)}  # one default per setting


@dataclass
class LoopConfig:
    """The budget and optimiser settings of one cell (a view of CellSpec, with its defaults)."""

    lr: float
    batch_size: int
    epochs: float = _SPEC["epochs"]
    max_steps: int | None = _SPEC["max_steps"]
    warmup_ratio: float = _SPEC["warmup_ratio"]
    scheduler: str = _SPEC["scheduler"]
    weight_decay: float = _SPEC["weight_decay"]
    grad_clip: float = _SPEC["grad_clip"]
    precision: str = _SPEC["precision"]
    optimizer: str = _SPEC["optimizer"]
    eval_every: int | None = _SPEC["eval_every"]
    seed: int = 0
    eval_batch_size: int = 64
    timer_warmup_steps: int = 3
    grad_accumulation: int = _SPEC["grad_accumulation"]  # micro-batches per optimizer step
    optimizer_in_backward: bool = _SPEC["optimizer_in_backward"]  # each parameter steps alone
    early_stopping: int | None = _SPEC["early_stopping"]  # patience, in evaluations
    select_metric: str | None = None  # the evaluate() key early stopping watches
    select_higher: bool = True  # whether a larger value of it is better

    @classmethod
    def from_spec(cls, spec: Any) -> LoopConfig:
        """The loop's fields taken from a CellSpec (the ones it lacks keep their defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{n: getattr(spec, n) for n in names if hasattr(spec, n)})


@dataclass
class LoopResult:
    losses: list[float]
    timer: StepTimer
    curve: list[dict[str, float]] = field(default_factory=list)
    samples_seen: int = 0
    early_stopping: dict[str, Any] | None = None


class BestCheckpoint:
    """Early stopping: keeps a host copy of the trainable parameters at the best evaluation,
    counts evaluations without improvement, restores the best copy at the end."""

    def __init__(self, model: nn.Module, patience: int, metric: str, higher: bool) -> None:
        self.model, self.patience, self.metric, self.higher = model, patience, metric, higher
        self.best: float | None = None
        self.best_step: int | None = None
        self.stopped_at: int | None = None
        self.waited = 0
        self._state: dict[str, torch.Tensor] | None = None
        # fixed here: a parameter that progressive unfreezing holds back is still kept
        self._names = {n for n, p in model.named_parameters() if p.requires_grad}

    def update(self, step: int, metrics: dict[str, float]) -> bool:
        """Record an evaluation; True when training should stop."""
        value = metrics.get(self.metric)
        if value is None:
            raise KeyError(
                f"early stopping watches {self.metric!r}; evaluation gave {sorted(metrics)}"
            )
        if self.best is None or (value > self.best if self.higher else value < self.best):
            self.best, self.best_step, self.waited = value, step, 0
            self._state = host_copy(self.model, self._names)
            return False
        self.waited += 1
        if self.waited >= self.patience:
            self.stopped_at = step
            return True
        return False

    def restore(self) -> dict[str, Any]:
        """Put the best parameters back; the record of what happened."""
        if self._state is not None:
            copy_back(self.model, self._state)
        return {
            "patience": self.patience,
            "metric": self.metric,
            "best": self.best,
            "best_step": self.best_step,
            "stopped_at": self.stopped_at,
        }


def host_copy(model: nn.Module, names: set[str]) -> dict[str, torch.Tensor]:
    """A host copy of the named parameters."""
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if n in names}


@torch.no_grad()
def copy_back(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put a host_copy back into the model's parameters."""
    for name, param in model.named_parameters():
        if name in state:
            param.copy_(state[name].to(param.device))


def trainable_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    """A host copy of the trainable parameters (the frozen ones never change)."""
    return host_copy(model, {n for n, p in model.named_parameters() if p.requires_grad})


def restore_trainable(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put a trainable_copy back, and make those parameters trainable again."""
    copy_back(model, state)
    for name, param in model.named_parameters():
        if name in state:
            param.requires_grad_(True)


def make_optimizer(name: str, groups: list[dict[str, Any]], lr: float) -> torch.optim.Optimizer:
    """One of OPTIMIZERS over the parameter groups."""
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if name == "adamw-fused":
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    if name in ("adamw-8bit", "paged-adamw-8bit"):
        import bitsandbytes as bnb

        cls = bnb.optim.AdamW8bit if name == "adamw-8bit" else bnb.optim.PagedAdamW8bit
        return cls(groups, lr=lr)
    raise ValueError(f"optimizer {name!r} is not one of: {', '.join(OPTIMIZERS)}")


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases and norm weights (1-d tensors), as is usual for AdamW."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def host_batch(
    data: Encoded,
    indices: list[int],
    pad_id: int,
    device: torch.device,
    transform: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
) -> tuple[dict[str, torch.Tensor], int, int]:
    """A collated batch on the host with its real and padded token counts, pinned when it goes
    to a CUDA device (so that the copy is asynchronous and overlaps the step in flight). A
    batch without padding goes without its all-ones mask: the same computation, and it spares
    transformers' read of the mask's values on the device (a host sync) in every forward."""
    batch = collate(data, indices, pad_id)
    lengths = [len(row) for row in data.sequences(indices)]  # from the lists, no tensor read
    real, padded = sum(lengths), len(lengths) * max(lengths)
    if transform is not None:  # on the host, before the mask of a batch without padding goes
        batch = transform(batch)
    if real == padded:
        del batch["attention_mask"]
    if device.type == "cuda":
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return batch, real, padded


def plan_batches(n: int, cfg: LoopConfig, tasks: list[int] | None = None) -> list[list[int]]:
    """The cell's (micro-)batches: `epochs` passes, or exactly `max_steps` optimizer steps of
    `grad_accumulation` micro-batches each when that is set. With `tasks` (a mixture's
    component per example) every task is drawn equally often."""

    def order(epochs: float, seed: int) -> list[list[int]]:
        if tasks is not None:
            return balanced_batch_order(tasks, cfg.batch_size, epochs, seed)
        return batch_order(n, cfg.batch_size, epochs, seed)

    batches = order(cfg.epochs, cfg.seed)
    if cfg.max_steps is not None:
        wanted = cfg.max_steps * cfg.grad_accumulation
        while len(batches) < wanted:  # more passes over the data, same seeded order
            batches += order(1.0, cfg.seed + len(batches))
        batches = batches[:wanted]
    return batches


def plan_steps(n: int, cfg: LoopConfig, tasks: list[int] | None = None) -> list[list[list[int]]]:
    """Optimizer steps, each a list of `grad_accumulation` micro-batches (the last may hold
    fewer)."""
    micro = plan_batches(n, cfg, tasks)
    size = cfg.grad_accumulation
    return [micro[i : i + size] for i in range(0, len(micro), size)]


def train_loop(
    model: nn.Module,
    train: Encoded,
    device: torch.device,
    pad_id: int,
    cfg: LoopConfig,
    on_step: Callable[[int, int, float], None] | None = None,
    step_hooks: list[Callable[[int], None]] | None = None,
    evaluate: Callable[[], dict[str, float]] | None = None,
    regularizer: Callable[[], torch.Tensor] | None = None,
    unfreeze: ProgressiveUnfreezing | None = None,
    objective: Callable[[Any, dict[str, torch.Tensor], list[int]], torch.Tensor] | None = None,
    inputs: Callable[[dict[str, torch.Tensor], int], dict[str, torch.Tensor]] | None = None,
) -> LoopResult:
    """Train `model` in place; time every optimiser step; return losses and timings.

    `objective(outputs, batch, indices)` replaces the model's loss as what is minimised (a
    distilled student's; a preference pair's, which is also the recorded loss as the model
    has none); `regularizer()` (EWC) is added to it; the recorded loss is the task's.
    `unfreeze` holds back all but the top layers at first (the optimizer still owns them all).
    `inputs(batch, position)` changes the `position`-th training micro-batch on the host
    (dynamic masking); evaluation never sees it.
    """
    if cfg.scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler {cfg.scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    if unfreeze is not None:
        unfreeze.release()
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise RuntimeError("the method left no trainable parameter")
    steps = plan_steps(len(train), cfg, train.task_ids)
    total = len(steps)
    groups = _param_groups(model, cfg.weight_decay)

    def schedule(optimizer: torch.optim.Optimizer) -> Any:
        return get_scheduler(
            cfg.scheduler,
            optimizer,
            num_warmup_steps=math.ceil(cfg.warmup_ratio * total),
            num_training_steps=total,
        )

    in_backward: OptimizerInBackward | None = None
    if cfg.optimizer_in_backward:
        if step_hooks:
            raise Unsupported(
                "the optimizer step in backward frees each gradient as its parameter steps; "
                "this method's step hook reads the gradients after the step"
            )
        in_backward = OptimizerInBackward(
            groups, lambda g: make_optimizer(cfg.optimizer, g, cfg.lr), schedule
        )
    else:
        optimizer = make_optimizer(cfg.optimizer, groups, cfg.lr)
        scheduler = schedule(optimizer)
    recipe = get_recipe(cfg.precision)
    scaler = torch.amp.GradScaler(device.type) if recipe.loss_scaling else None
    timer = StepTimer(warmup_steps=cfg.timer_warmup_steps)
    result = LoopResult(losses=[], timer=timer)
    best = (
        BestCheckpoint(model, cfg.early_stopping, cfg.select_metric or "", cfg.select_higher)
        if cfg.early_stopping
        else None
    )
    if unfreeze is not None:
        unfreeze.start()
    micro = [indices for group in steps for indices in group]
    model.train()

    def prepared(at: int) -> tuple[dict[str, torch.Tensor], int, int]:
        transform = (lambda batch: inputs(batch, at)) if inputs is not None else None
        return host_batch(train, micro[at], pad_id, device, transform)

    upcoming = prepared(0)
    position = 0  # index of the next micro-batch in `micro`
    for step, group in enumerate(steps, start=1):
        tokens = padded = 0
        loss_sum: torch.Tensor | None = None
        synchronize(device)
        t0 = time.perf_counter()
        for _ in group:
            host, real, pad = upcoming  # counted on the host: no device sync
            indices = micro[position]
            tokens, padded, position = tokens + real, padded + pad, position + 1
            batch = to_device(host, device)
            with autocast_for(device, cfg.precision):
                outputs = model(**model_inputs(batch))
                loss = task_loss(outputs, batch)
                minimised = objective(outputs, batch, indices) if objective is not None else loss
                if loss is None:  # a preference pair's: the model has no loss of its own
                    loss = minimised
            if regularizer is not None:
                minimised = minimised + regularizer()
            minimised = minimised / len(group)
            if scaler is not None:
                scaler.scale(minimised).backward()
            else:
                minimised.backward()
            loss_sum = loss.detach() if loss_sum is None else loss_sum + loss.detach()
            if position < len(micro):  # the host prepares the next batch while the device works
                upcoming = prepared(position)
        if in_backward is None:
            if scaler is not None:
                scaler.unscale_(optimizer)
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
            if scaler is not None:
                scaler.step(optimizer)  # amp-fp16 only: reads the inf check, one sync by design
                scaler.update()
            else:
                optimizer.step()
        for hook in step_hooks or []:  # before zero_grad: AdaLoRA scores use the gradients
            hook(step)
        if unfreeze is not None:
            unfreeze.step(step)
        if in_backward is None:
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            in_backward.step_schedules()
        synchronize(device)  # the timing boundary: the only wait on the device in a step
        samples = sum(len(indices) for indices in group)
        timer.record(time.perf_counter() - t0, samples, tokens, padded)
        value = float(loss_sum) / len(group)  # already computed: reading it does not stall
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at step {step}")
        result.losses.append(value)
        result.samples_seen += samples
        if on_step is not None:
            on_step(step, total, value)
        if evaluate is not None and cfg.eval_every and step % cfg.eval_every == 0 and step < total:
            metrics = evaluate()
            result.curve.append({"step": step, **metrics})
            if best is not None and best.update(step, metrics):
                break
    if in_backward is not None:
        in_backward.remove()
    if best is not None:
        result.early_stopping = best.restore()
    return result
