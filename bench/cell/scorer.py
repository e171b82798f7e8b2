"""Scoring a cell's model on one of its parts: the validation metrics during training (which a
scheduler such as ASHA may read to end a trial) and the final predictions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.cell.load import LoadedCell
from bench.cell.setup import CellSetup
from bench.data.splits import Encoded, Part
from bench.evaluate.scoring import evaluate_part


@dataclass
class Scorer:
    setup: CellSetup
    loaded: LoadedCell
    on_evaluate: Callable[[dict[str, float]], None] | None = None

    def score(self, encoded: Encoded, part: Part, final: bool = False) -> tuple[dict, list]:
        """Metrics and per-example rows (with generation on the final test when it applies)."""
        spec, task = self.setup.spec, self.setup.task
        return evaluate_part(
            task,
            self.loaded.model,
            self.loaded.tokenizer,
            encoded,
            part,
            self.setup.device,
            self.loaded.pad_id,
            spec.precision,
            with_generation=final,
            max_new_tokens=spec.max_new_tokens or task.max_new_tokens,
            preference=self.loaded.preference,
            blocks=self.setup.split.blocks,
        )

    def validation(self) -> dict[str, float]:
        """`val_<metric>` for every metric of the task."""
        scores, _ = self.score(self.loaded.validation, self.setup.split.validation)
        metrics = {f"val_{k}": v for k, v in scores.items()}
        if self.on_evaluate is not None:  # a scheduler (ASHA) may end the trial here
            self.on_evaluate(metrics)
        return metrics

    def final(self) -> tuple[Encoded, dict[str, Any], list]:
        """The scored part, its metrics and rows: the test split, or validation for a search
        trial (a trial never reads the test split)."""
        loaded, split = self.loaded, self.setup.split
        trial = self.setup.spec.trial
        encoded, part = (
            (loaded.validation, split.validation) if trial else (loaded.test, split.test)
        )
        metrics, rows = self.score(encoded, part, final=True)
        return encoded, metrics, rows
