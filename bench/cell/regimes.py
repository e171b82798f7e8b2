"""The regimes a cell composes around its training loop, built in one place: the forgetting
probe (always), EWC, progressive unfreezing, self-training and dynamic masking (when the cell
asks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from bench.cell.load import LoadedCell
from bench.cell.setup import CellSetup
from bench.cell.train_loop import LoopResult, restore_trainable, trainable_copy
from bench.data.general_text import general_text
from bench.data.splits import Encoded, encode
from bench.evaluate.predict import predict
from bench.regimes.dynamic_mask import DynamicMask, dynamic_mask_for
from bench.regimes.ewc import EWC
from bench.regimes.forgetting import ForgettingProbe, encode_texts
from bench.regimes.self_training import select_pseudo_labels, summary, with_pseudo_labels
from bench.regimes.unfreeze import ProgressiveUnfreezing

GENERAL_MAX_LENGTH = 128  # tokens per general-text passage (EWC's Fisher and forgetting)


@dataclass
class Regimes:
    probe: ForgettingProbe
    ewc: EWC | None
    unfreeze: ProgressiveUnfreezing | None
    initial: dict[str, torch.Tensor] | None  # the start self-training's student restarts from
    masking: DynamicMask | None = None

    @property
    def regularizer(self) -> Callable[[], torch.Tensor] | None:
        return self.ewc.penalty if self.ewc is not None else None

    @property
    def inputs(self) -> Callable[[dict[str, torch.Tensor], int], dict[str, torch.Tensor]] | None:
        """What changes a training batch's inputs (dynamic masking), or None."""
        return self.masking.mask if self.masking is not None else None

    def self_train(
        self,
        setup: CellSetup,
        loaded: LoadedCell,
        teacher: LoopResult,
        fit: Callable[[Encoded], LoopResult],
        validation: Callable[[], dict[str, float]],
    ) -> tuple[LoopResult, dict[str, Any] | None, int]:
        """With self-training, the teacher labels the pool and a student trained from the same
        start is the cell's model: (the loop that counts, the record, steps of both)."""
        if self.initial is None:
            return teacher, None, len(teacher.losses)
        record, student_data = _pseudo_label(setup, loaded, validation)
        record["teacher_curve"] = teacher.curve
        restore_trainable(loaded.model, self.initial)
        torch.manual_seed(setup.spec.seed)  # the student's dropout, seeded like the cell
        student = fit(student_data)
        record["student_examples"] = len(student_data)
        return student, record, len(teacher.losses) + len(student.losses)


def compose(setup: CellSetup, loaded: LoadedCell) -> Regimes:
    """Measure general text before training, and set up what the cell's spec asks for."""
    spec, model, pad_id = setup.spec, loaded.model, loaded.pad_id
    source = setup.task.general_text
    fisher_texts, held_out = general_text(source)
    positions = getattr(model.config, "max_position_embeddings", None) or GENERAL_MAX_LENGTH
    length = min(GENERAL_MAX_LENGTH, positions)
    held_out_ids = encode_texts(loaded.tokenizer, held_out, length)
    probe = ForgettingProbe(model, held_out_ids, pad_id, setup.device, source)
    ewc = None
    if loaded.common["ewc_lambda"] > 0:
        samples = fisher_texts[: int(loaded.common["ewc_samples"])]
        fisher_ids = encode_texts(loaded.tokenizer, samples, length)
        lam = float(loaded.common["ewc_lambda"])
        ewc = EWC(model, loaded.heads, lam, fisher_ids, pad_id, setup.device)
    unfreeze = ProgressiveUnfreezing(model, spec.unfreeze_every) if spec.unfreeze_every else None
    initial = trainable_copy(model) if spec.self_training is not None else None
    masking = dynamic_mask_for(spec.dynamic_mask, loaded.tokenizer, spec.seed)
    return Regimes(probe, ewc, unfreeze, initial, masking)


def _pseudo_label(
    setup: CellSetup, loaded: LoadedCell, validation: Callable[[], dict[str, float]]
) -> tuple[dict[str, Any], Encoded]:
    """The trained teacher labels the unlabelled pool; the record of it and the student's data."""
    spec, split = setup.spec, setup.split
    if split.unlabelled is None or spec.self_training is None:
        raise ValueError("self-training needs a k-shot cell (shots) and a threshold")
    pool = encode(
        loaded.tokenizer,
        split.unlabelled.texts,
        split.unlabelled.labels,
        spec.max_length,
        texts_b=split.unlabelled.texts_b,
    )
    teacher = validation()
    _, probs, _ = predict(loaded.model, pool, setup.device, loaded.pad_id, spec.precision)
    picks = select_pseudo_labels(probs, spec.self_training)
    record = summary(
        picks, spec.self_training, split.unlabelled.labels, teacher, len(split.label_names)
    )
    return record, with_pseudo_labels(loaded.train, pool, picks)
