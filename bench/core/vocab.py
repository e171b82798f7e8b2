"""The names the command line offers before any library loads: precision recipes, optimizers,
class balancing, and the shape of a training step (what its memory depends on)."""

from __future__ import annotations

from dataclasses import dataclass

RECIPE_NAMES = ("fp32", "amp-bf16", "bf16", "amp-fp16")  # bench.models.precision.RECIPES
# adamw: torch's default implementation (foreach on CUDA); adamw-fused: its fused CUDA kernel;
# the 8-bit ones are bitsandbytes' (paged: states in unified memory, evicted under pressure).
OPTIMIZERS = ("adamw", "adamw-fused", "adamw-8bit", "paged-adamw-8bit")
BALANCE = ("down", "up")
# a preference task's objective: DPO on the policy, or a Bradley-Terry reward model
PREFERENCE_OBJECTIVES = ("dpo", "reward")
# DPO's reference: auto (the base with the method switched off where that gives the base back,
# else a frozen copy of the base), or always a copy
DPO_REFERENCES = ("auto", "copy")
# what a preference cell's training step runs, as an estimate steps it: a reward head on both
# sequences of a pair, or DPO with its reference inside the model (the method switched off)
# or a frozen copy of the base
PREFERENCE_STEPS = ("reward", "dpo-adapter-off", "dpo-copy")


@dataclass(frozen=True)
class StepShape:
    """What a training step's memory depends on besides the model, the method and its
    settings: the recipe, the batch, the optimizer, checkpointing and the head. The defaults
    are the GPU profiles' decoder workload (bench.plan.gpu_suites) and the estimate command's."""

    precision: str = "bf16"
    batch_size: int = 4
    max_length: int = 512
    optimizer: str = "adamw"
    grad_checkpointing: bool = False
    task_kind: str | None = None  # None: generation for decoders, classification for encoders
    num_labels: int = 2
    optimizer_in_backward: bool = False  # bench.cell.optimizer_in_backward
    loss_chunks: int | None = None  # bench.models.chunked_loss
    # a preference cell's step (PREFERENCE_STEPS): two sequences per pair, DPO's reference
    preference: str | None = None
