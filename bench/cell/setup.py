"""A cell's first step: what it trains (task, method, model, settings), on which device, the
data split, and where the model is built; refused here when the combination cannot run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from bench.core.errors import Unsupported
from bench.core.registry import METHODS, TASKS, MethodInfo, ModelInfo, TaskInfo
from bench.core.spec import CellSpec
from bench.core.versions import check_versions
from bench.data.mixture import refuse_cell_on_mixture, task_split
from bench.data.splits import Split
from bench.models.load_target import LoadTarget, Quantization
from bench.models.precision import Recipe, get_recipe
from bench.models.sources import get_model


@dataclass
class CellSetup:
    """The resolved cell: registry entries, settings, device, split and the load target."""

    spec: CellSpec
    device: torch.device
    task: TaskInfo
    method: MethodInfo
    model_info: ModelInfo
    settings: dict[str, Any]
    split: Split
    recipe: Recipe
    augmentation: dict[str, Any] | None = None  # what EDA made of the training part

    @property
    def num_labels(self) -> int:
        if self.task.kind == "regression" or self.model_task_kind == "reward":
            return 1
        if self.task.kind == "token":  # one output per tag; the split's labels are strata
            return len(self.task.labels)
        return len(self.split.label_names)

    @property
    def model_task_kind(self) -> str:
        """What the model is built for: the task's kind, except that a preference task trains a
        causal LM (DPO) or a scalar-head classifier (a reward model)."""
        if self.task.kind != "preference":
            return self.task.kind
        return "generation" if self.spec.preference_objective == "dpo" else "reward"

    @property
    def load_kind(self) -> str:
        """The model loaders' and peft's task kind (a reward model is a one-label classifier)."""
        kind = self.model_task_kind
        return "classification" if kind == "reward" else kind

    def load_target(self) -> LoadTarget:
        quantization = (
            self.method.base_quantization(self.settings, str(self.device))
            if self.method.base_quantization
            else None
        )
        return load_target_for(
            self.model_info.source, self.device, self.recipe.weights, quantization
        )


def resolve(spec: CellSpec) -> CellSetup:
    """Resolve and check the cell, then draw its split (the model is not loaded yet)."""
    device = _device(spec)
    task = TASKS.get(spec.task)
    method = METHODS.get(spec.method)
    model_info = get_model(spec.model)
    settings = method.resolve_settings(spec.settings_dict())
    check_versions(spec)
    _check_supported(spec, method, model_info, task)
    refuse_cell_on_mixture(spec)
    split = task_split(
        task, spec.train_size, balance=spec.balance, shots=spec.shots, shot_seed=spec.seed
    )
    augmentation = None
    if spec.augment is not None:  # the training part only, after the cap and the k-shot draw
        from bench.data.augment import augmented

        train, augmentation = augmented(split.train, spec.augment, spec.augment_copies, spec.seed)
        split = dataclasses.replace(split, train=train)
    return CellSetup(
        spec,
        device,
        task,
        method,
        model_info,
        settings,
        split,
        get_recipe(spec.precision),
        augmentation,
    )


def load_target_for(
    source: str,
    device: torch.device,
    weights: torch.dtype,
    quantization: Quantization | None,
) -> LoadTarget:
    """Where the model is built: on its device in the recipe's weight dtype. A quantised base
    of pretrained weights is quantised at load on CUDA (BitsAndBytesConfig); one of a `config:`
    model (or any on the CPU) is built on the host in the compute dtype and quantised by the
    method layer by layer onto the device, so the device never holds the unquantised model."""
    if quantization is None:
        return LoadTarget(device, weights)
    dtype = quantization.compute_dtype if device.type == "cuda" else weights
    if source == "config" or device.type != "cuda":
        return LoadTarget(torch.device("cpu"), dtype, quantization)
    return LoadTarget(device, dtype, quantization)


def _device(spec: CellSpec) -> torch.device:
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"cell asks for device {spec.device!r} but CUDA is not available")
    device = torch.device(spec.device)
    if spec.emulate:
        _emulate(spec, device)
    return device


def _emulate(spec: CellSpec, device: torch.device) -> None:
    """Cap the allocator at the planned profile's memory (a 24 GB card on an 80 GB one)."""
    from bench.hardware.gpus import CUDA_CONTEXT_BYTES, emulation_fraction, get_gpu

    if device.type != "cuda" or not spec.gpu:
        raise ValueError("emulate needs a CUDA device and the GPU profile to emulate")
    total = torch.cuda.get_device_properties(device).total_memory
    fraction = emulation_fraction(get_gpu(spec.gpu).memory_bytes, total, CUDA_CONTEXT_BYTES)
    torch.cuda.set_per_process_memory_fraction(fraction, device)


def _check_supported(
    spec: CellSpec, method: MethodInfo, model_info: ModelInfo, task: TaskInfo
) -> None:
    if model_info.kind not in method.supports:
        raise Unsupported(
            f"method {method.name!r} supports {', '.join(method.supports)} models; "
            f"{model_info.name!r} is a {model_info.kind}"
        )
    if spec.grad_checkpointing and method.no_checkpointing:
        raise Unsupported(method.no_checkpointing)
    if task.kind == "generation" and model_info.kind != "decoder":
        raise Unsupported(f"generation task {task.name!r} needs a decoder; {spec.model!r} is not")
    if task.kind == "preference" and spec.preference_objective == "dpo":
        if model_info.kind != "decoder":
            raise Unsupported(f"DPO on {task.name!r} needs a decoder; {spec.model!r} is not")
