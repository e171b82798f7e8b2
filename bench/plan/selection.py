"""What a run narrows a suite to and lays over its cells, as one typed object: the names,
the number of seeds, budget fields, method settings and a learning rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.core.registry import METHODS, TASKS
from bench.core.spec import CellSpec, SuiteSpec
from bench.plan.suites import expand


@dataclass(frozen=True)
class Selection:
    """`methods`, `tasks`, `models` (None: the suite's), `seeds` (0..N-1), `budget` (CellSpec
    fields), `settings` (laid over every method's) and `lr` (every method's rate)."""

    methods: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    seeds: int | None = None
    budget: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None

    @property
    def narrows(self) -> bool:
        """True when the cells differ from the suite's own (its page is then not rewritten)."""
        names = (self.methods, self.tasks, self.models, self.seeds is not None)
        return any([*names, self.budget, self.settings, self.lr is not None])

    def expand(self, suite: SuiteSpec, device: str, **placement: Any) -> list[CellSpec]:
        """The suite's cells as selected (a method the suite lacks is added to it)."""
        return expand(
            suite,
            device,
            methods=_listed(self.methods),
            tasks=_listed(self.tasks),
            models=_listed(self.models),
            seeds=self.seeds,
            budget=self.budget,
            settings=self.settings,
            lr=self.lr,
            **placement,
        )

    def overlay(self) -> Selection:
        """Only what is laid over cells (budget, settings, lr): the names and seeds dropped."""
        return Selection(budget=self.budget, settings=self.settings, lr=self.lr)

    def keeps(self, cell: CellSpec) -> bool:
        """Whether a cell of a fixed matrix (a GPU profile's) is among the names and seeds."""
        from bench.models.sources import canonical_model

        def among(names: tuple[str, ...] | None, value: str, canon: Any) -> bool:
            return names is None or value in {canon(n) for n in names}

        return (
            among(self.models, cell.model, canonical_model)
            and among(self.tasks, cell.task, TASKS.canonical)
            and among(self.methods, cell.method, METHODS.canonical)
            and (self.seeds is None or cell.seed < self.seeds)
        )


def _listed(names: tuple[str, ...] | None) -> list[str] | None:
    return list(names) if names else None
