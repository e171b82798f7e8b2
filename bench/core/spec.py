"""Cell and suite specifications: frozen dataclasses, canonical JSON and the spec hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bench import CODE_VERSION

Settings = tuple[tuple[str, Any], ...]


def freeze_settings(settings: dict[str, Any] | Settings | None) -> Settings:
    """Turn a settings mapping into a sorted tuple of pairs (hashable, order-independent)."""
    if not settings:
        return ()
    items = settings.items() if isinstance(settings, dict) else settings
    return tuple(sorted((str(k), _freeze_value(v)) for k, v in items))


def _freeze_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze_value(v) for v in value)
    if isinstance(value, dict):
        return freeze_settings(value)
    return value


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same object always gives the same text."""
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


@dataclass(frozen=True)
class CellSpec:
    """One fine-tuning run. Every field that can change a number is here, so it is in the hash."""

    model: str
    task: str
    method: str
    seed: int
    settings: Settings = ()
    lr: float = 1e-4
    train_size: int | None = 2000
    max_length: int = 64
    batch_size: int = 32
    epochs: float = 1.0
    max_steps: int | None = None
    warmup_ratio: float = 0.06
    scheduler: str = "linear"
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    precision: str = "fp32"
    eval_every: int | None = None
    device: str = "cpu"
    # Fields added after the first stored results: left out of the JSON (and so of the hash)
    # while they hold their default, so that cells stored before them keep their ids.
    balance: str | None = None
    max_new_tokens: int | None = None  # None: the task's own
    optimizer: str = "adamw"  # bench.cell.train_loop.OPTIMIZERS
    grad_checkpointing: bool = False
    gpu: str | None = None  # the GPU profile the cell was planned for (bench.hardware.gpus)
    card: str | None = None  # the card it runs on: a profile name, or the NVML name
    emulate: bool = False  # usable memory capped at the `gpu` profile's on a bigger `card`
    compile: bool = False  # torch.compile the model (compile time kept apart from step time)
    grad_accumulation: int = 1  # micro-batches of `batch_size` per optimizer step
    early_stopping: int | None = None  # patience in evaluations (every `eval_every` steps)
    shots: int | None = None  # k labelled training examples per class, drawn with the seed
    trial: bool = False  # a search trial: scored on validation, the test split never read
    unfreeze_every: int | None = None  # progressive unfreezing: one more block every N steps
    self_training: float | None = None  # pseudo-label confidence threshold (k-shot cells)
    optimizer_in_backward: bool = False  # each parameter steps as its gradient arrives
    loss_chunks: int | None = None  # causal LM loss upcast to fp32 in this many token chunks
    inference: bool = False  # the serving stage after evaluation (bench.serve.stage)
    teacher: str | None = None  # a distilled cell's teacher: that cell's spec JSON
    distill_temperature: float = 2.0  # softens both distributions (distilled cells)
    distill_alpha: float = 0.5  # the soft term's share of the loss (distilled cells)
    preference_objective: str = "dpo"  # preference tasks: dpo or reward (bench.core.vocab)
    dpo_beta: float = 0.1  # DPO's KL weight: the implicit reward is beta * log(pi / pi_ref)
    dpo_reference: str = "auto"  # DPO's reference model (bench.core.vocab.DPO_REFERENCES)
    dynamic_mask: float | None = None  # share of input tokens masked anew in every batch
    augment: float | None = None  # EDA's alpha: the share of words each operation changes
    augment_copies: int = 4  # augmented copies of each training text (with augment)
    # The code that makes the numbers: the method's and the task's declared version
    # (bench.core.registry), so that a changed method never reuses its old cells.
    method_version: int | str = 1
    task_version: int | str = 1

    def settings_dict(self) -> dict[str, Any]:
        return dict(self.settings)

    def to_json(self) -> str:
        data = json.loads(canonical_json(self))
        for name, default in LATER_FIELDS.items():
            if data.get(name) == default:
                del data[name]
        return canonical_json(data)

    @property
    def cell_id(self) -> str:
        """Hash of the canonical spec plus the code version that matters for its numbers."""
        payload = f"{CODE_VERSION}\n{self.to_json()}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def recipe_tags(self) -> list[str]:
        """What sets this cell's recipe and regime apart from the default (`bf16`, `8-shot`,
        ...): shown in its label and in the report's method name, so variants stay apart."""
        tags = [self.precision] if self.precision != "fp32" else []
        tags += ["grad-ckpt"] if self.grad_checkpointing else []
        tags += [self.optimizer] if self.optimizer != "adamw" else []
        tags += ["compile"] if self.compile else []
        tags += [f"accumulate {self.grad_accumulation}"] if self.grad_accumulation > 1 else []
        tags += [f"early stop {self.early_stopping}"] if self.early_stopping else []
        tags += (
            [f"clip {self.grad_clip:g}" if self.grad_clip else "no clipping"]
            if (self.grad_clip != 1.0)
            else []
        )
        tags += ["optimizer in backward"] if self.optimizer_in_backward else []
        tags += [f"loss in {self.loss_chunks} chunks"] if self.loss_chunks else []
        tags += ["serving measured"] if self.inference else []
        tags += [self.teacher_tag()] if self.teacher is not None else []
        tags += ["reward model"] if self.preference_objective == "reward" else []
        tags += [f"beta {self.dpo_beta:g}"] if self.dpo_beta != 0.1 else []
        tags += ["reference copy"] if self.dpo_reference == "copy" else []
        tags += [f"dynamic mask {self.dynamic_mask:g}"] if self.dynamic_mask else []
        tags += [f"EDA {self.augment:g} x{self.augment_copies}"] if self.augment else []
        tags += [f"{self.shots}-shot"] if self.shots else []
        tags += [f"unfreeze every {self.unfreeze_every}"] if self.unfreeze_every else []
        tags += (
            [f"self-training >= {self.self_training:g}"] if self.self_training is not None else []
        )
        return tags

    def teacher_tag(self) -> str:
        """`distilled from full (T 2, alpha 0.5)`: the teacher's method, and model where it
        differs (its full configuration is in the cell's id)."""
        teacher = json.loads(self.teacher or "{}")
        model = f" on {teacher['model']}" if teacher.get("model") != self.model else ""
        mix = f"T {self.distill_temperature:g}, alpha {self.distill_alpha:g}"
        return f"distilled from {teacher.get('method')}{model} ({mix})"

    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.settings)
        method = f"{self.method}({extra})" if extra else self.method
        recipe = self.recipe_tags() + (["trial"] if self.trial else [])
        tail = f" [{', '.join(recipe)}]" if recipe else ""
        return f"{self.model} / {self.task} / {method}{tail} / seed {self.seed}"

    @classmethod
    def from_json(cls, text: str) -> CellSpec:
        data = json.loads(text)
        data["settings"] = freeze_settings({k: v for k, v in data.get("settings", [])})
        return cls(**data)


# Fields added after the first stored results: left out of a cell's JSON (and so of its id)
# while they hold their default, so that cells stored before them keep their ids.
LATER_FIELDS = {
    f.name: f.default
    for f in dataclasses.fields(CellSpec)
    if f.name
    in (
        "balance",
        "max_new_tokens",
        "optimizer",
        "grad_checkpointing",
        "gpu",
        "card",
        "emulate",
        "compile",
        "grad_accumulation",
        "early_stopping",
        "shots",
        "trial",
        "unfreeze_every",
        "self_training",
        "optimizer_in_backward",
        "loss_chunks",
        "inference",
        "teacher",
        "distill_temperature",
        "distill_alpha",
        "preference_objective",
        "dpo_beta",
        "dpo_reference",
        "dynamic_mask",
        "augment",
        "augment_copies",
        "method_version",
        "task_version",
    )
}


@dataclass(frozen=True)
class MethodChoice:
    """A method in a suite with its settings, an optional learning rate override and budget
    fields of its own (a DPO reference strategy that only some methods have)."""

    name: str
    settings: Settings = ()
    lr: float | None = None
    budget: Settings = ()


@dataclass(frozen=True)
class SuiteSpec:
    """A named matrix: models x tasks x methods x seeds, sharing one training budget."""

    name: str
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    methods: tuple[MethodChoice, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    budget: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # budget overrides crossed with every cell, e.g. with and without gradient checkpointing
    variants: tuple[dict[str, Any], ...] = ({},)
    # a teacher: every cell but the teacher's own also runs distilled from it (same seed),
    # on `teacher_model` where given (a smaller student), else on the student's model
    teacher: MethodChoice | None = None
    teacher_model: str | None = None
    # more (tasks, methods) crosses on the same models, budget, variants and seeds (the
    # adapters suite's shared multi-task adapter and its one-per-task twins)
    also: tuple[tuple[tuple[str, ...], tuple[MethodChoice, ...]], ...] = ()

    def replace(self, **changes: Any) -> SuiteSpec:
        return dataclasses.replace(self, **changes)
