"""A cell's second step: build the model on its device, encode the splits, apply the method,
and record what was loaded (parameters, dtypes, attention, seconds)."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any

import torch

from bench.cell.setup import CellSetup
from bench.cell.train_loop import LoopConfig, plan_batches, plan_steps
from bench.core.method_api import MethodContext
from bench.core.registry import split_common
from bench.data.mixture import with_tasks, without_spans
from bench.data.splits import Encoded, Part, collate, encode, to_device
from bench.data.token_cache import cached_encoding, tokenizer_fingerprint
from bench.evaluate.generation import encode_sft
from bench.evaluate.metrics import LOWER_IS_BETTER
from bench.evaluate.preference import encode_pairs
from bench.evaluate.token_tags import encode_words
from bench.meters.param_counts import count_parameters
from bench.models.chunked_loss import use_chunked_loss
from bench.models.precision import dtype_census, keep_added_fp32
from bench.models.sources import enable_gradient_checkpointing, head_module_names
from bench.regimes.preference import PreferenceObjective, Reference, frozen, reference_strategy


@dataclass
class LoadedCell:
    """The model with its method applied, its tokenizer and encoded parts, the loop's
    configuration and the method's context; `record` is the cell record's load section."""

    model: torch.nn.Module
    tokenizer: Any
    heads: list[str]
    pad_id: int
    train: Encoded
    validation: Encoded
    test: Encoded
    cfg: LoopConfig
    ctx: MethodContext
    common: dict[str, Any]  # the settings every method takes (EWC's)
    params: dict[str, Any]
    dtypes: dict[str, Any]
    record: dict[str, Any]
    preference: PreferenceObjective | None = None  # a preference task's loss and reference


def load_and_apply(setup: CellSetup) -> LoadedCell:
    """Load the model where the recipe says, encode the split, apply the method on the device."""
    spec, task, device = setup.spec, setup.task, setup.device
    target = setup.load_target()
    load_start = time.perf_counter()
    model, tokenizer = setup.model_info.load(setup.load_kind, setup.num_labels, target)
    if task.kind == "regression":
        model.config.problem_type = "regression"
    base_ids = {id(p) for p in model.parameters()}
    heads = head_module_names(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train, validation, test = _encode_parts(setup, tokenizer)
    cfg = dataclasses.replace(
        LoopConfig.from_spec(spec),
        select_metric=f"val_{task.metric}",
        select_higher=task.metric not in LOWER_IS_BETTER,
    )
    batches = plan_batches(len(train), cfg, train.task_ids)
    ctx = MethodContext(
        model_kind=setup.model_info.kind,
        task_kind=setup.load_kind,
        head_names=heads,
        seed=spec.seed,
        total_steps=len(plan_steps(len(train), cfg, train.task_ids)),
        device=str(device),
        calibration_batches=lambda n: [  # a mixture's label spans are the loss's, not inputs
            to_device(without_spans(collate(train, b, pad_id)), device) for b in batches[:n]
        ],
    )
    own_settings, common = split_common(setup.settings)
    model = setup.method.apply(model, own_settings, ctx)  # on the device: SVDs, scoring there
    if setup.recipe.added_fp32:
        keep_added_fp32(model, base_ids, heads, setup.recipe.weights)
    if spec.grad_checkpointing:
        enable_gradient_checkpointing(model)
    if spec.loss_chunks:
        use_chunked_loss(model, spec.loss_chunks)
    move_rest(model, device)
    preference = preference_objective(setup, model)
    params, dtypes = count_parameters(model, heads), dtype_census(model)
    record = {
        "seconds": time.perf_counter() - load_start,
        "device": str(target.device),
        "dtype": str(target.dtype).removeprefix("torch."),
        "quantized_at": ctx.info.get("quantized_at"),
        "attention": getattr(getattr(model, "config", None), "_attn_implementation", None),
        "compile": spec.compile,
    }
    return LoadedCell(
        model,
        tokenizer,
        heads,
        pad_id,
        train,
        validation,
        test,
        cfg,
        ctx,
        common,
        params,
        dtypes,
        record,
        preference,
    )


def preference_objective(setup: CellSetup, model: torch.nn.Module) -> PreferenceObjective | None:
    """A preference cell's objective, with DPO's reference: the trained model with its method
    switched off, or a frozen copy of the base loaded here (inside the load's memory phase, so
    the peak counts it)."""
    spec = setup.spec
    if setup.task.kind != "preference":
        return None
    strategy = reference_strategy(spec)
    reference = None
    if strategy == "adapter-off":
        if not hasattr(model, "disable_adapter"):
            raise RuntimeError(
                f"method {spec.method} declares that switching it off gives the base back, but "
                f"its model ({type(model).__name__}) cannot be switched off"
            )
        reference = Reference("adapter-off", model)
    elif strategy == "copy":
        with torch.random.fork_rng():  # a `config:` model's random weights, as the policy's
            torch.manual_seed(spec.seed)
            base = setup.model_info.load(setup.load_kind, setup.num_labels, setup.load_target())[0]
        move_rest(base, setup.device)
        reference = Reference("copy", frozen(base))
    return PreferenceObjective(spec.preference_objective, spec.dpo_beta, reference)


def move_rest(model: torch.nn.Module, device: torch.device) -> None:
    """Move whatever is not yet on `device` (a method's new layers); a model already there,
    such as one quantised at load, is left alone (transformers refuses to move those)."""
    tensors = [*model.parameters(), *model.buffers()]
    if any(t.device != device for t in tensors if t.device.type != "meta"):
        model.to(device)


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """torch.compile with the backend FTBENCH_COMPILE_BACKEND names (inductor by default;
    tests use `eager` where no C++ compiler is at hand)."""
    return torch.compile(model, backend=os.environ.get("FTBENCH_COMPILE_BACKEND", "inductor"))


def _encode_parts(setup: CellSetup, tokenizer: Any) -> tuple[Encoded, Encoded, Encoded]:
    """Train / validation / test encodings, from the on-disk cache when the key matches."""
    spec, kind, split = setup.spec, setup.task.kind, setup.split
    fingerprint = tokenizer_fingerprint(tokenizer)
    out = []
    for name in ("train", "validation", "test"):
        part: Part = getattr(split, name)
        key = {
            "tokenizer": fingerprint,
            "split": split.hash,
            "part": name,
            "kind": kind,
            "max_length": spec.max_length,
        }

        def build(part: Part = part) -> Encoded:
            if kind == "preference":
                return encode_pairs(
                    tokenizer,
                    part.texts,
                    part.responses or [],
                    part.rejected or [],
                    part.labels,
                    spec.max_length,
                )
            if kind == "token":
                return encode_words(
                    tokenizer,
                    part.texts,
                    part.tags or [],
                    part.labels,
                    setup.task.labels,
                    spec.max_length,
                )
            if kind == "generation":
                return encode_sft(
                    tokenizer, part.texts, part.responses, part.labels, spec.max_length
                )
            return encode(
                tokenizer,
                part.texts,
                part.labels,
                spec.max_length,
                texts_b=part.texts_b,
                regression=kind == "regression",
            )

        encoded = cached_encoding(key, build)
        out.append(with_tasks(encoded, split.blocks, name) if split.blocks else encoded)
    return out[0], out[1], out[2]
