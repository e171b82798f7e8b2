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
    # run --distill-from: every cell distilled from this method, or from the stored cell whose
    # spec JSON this is (a cell id resolved against the store)
    teacher: str | None = None

    @property
    def narrows(self) -> bool:
        """True when the cells differ from the suite's own (its page is then not rewritten)."""
        names = (self.methods, self.tasks, self.models, self.seeds is not None)
        laid = [self.budget, self.settings, self.lr is not None, self.teacher is not None]
        return any([*names, *laid])

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
            teacher=self.teacher,
            **placement,
        )

    def overlay(self) -> Selection:
        """Only what is laid over cells (budget, settings, lr): the names and seeds dropped."""
        return Selection(
            budget=self.budget, settings=self.settings, lr=self.lr, teacher=self.teacher
        )

    def narrow(self, cells: list[CellSpec]) -> list[CellSpec]:
        """The cells of a fixed matrix (a GPU profile's) among the names and seeds."""
        from bench.models.sources import canonical_model

        def canonical(names: tuple[str, ...] | None, canon: Any) -> set[str] | None:
            return None if names is None else {canon(n) for n in names}

        models = canonical(self.models, canonical_model)
        tasks = canonical(self.tasks, TASKS.canonical)
        methods = canonical(self.methods, METHODS.canonical)
        return [
            c
            for c in cells
            if (models is None or c.model in models)
            and (tasks is None or c.task in tasks)
            and (methods is None or c.method in methods)
            and (self.seeds is None or c.seed < self.seeds)
        ]


def _listed(names: tuple[str, ...] | None) -> list[str] | None:
    return list(names) if names else None
