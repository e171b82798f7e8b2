"""Every comparison with full fine-tuning that a store supports, tested once: one method-level
result per pair of configurations and one Holm family per budget (model, task, data, budget,
recipe and regime equal), so that a comparison reads the same on every page that shows it."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from bench.core.status import Status
from bench.report.cells_table import cells_frame
from bench.report.labels import BASELINE
from bench.stats import paired as stats
from bench.stats.collapse import collapse_note, with_failure_modes
from bench.stats.compare import method_level_difference
from bench.stats.configurations import scored_on_test, with_configurations
from bench.stats.method_level import MethodDifference
from bench.store.cell_store import Store

FAMILY_NOTE = (
    "Holm's correction runs over one family per budget: every test-scored configuration "
    f"compared with each configuration of `{BASELINE}` that the store holds at the same model, "
    "task, data, budget, recipe and regime (learning rates and settings apart), whichever page "
    "shows it, so that one comparison has one p-value everywhere; `comparisons.md` lists each "
    "family. Intervals are 95% and not adjusted for that multiplicity."
)


@dataclass(frozen=True)
class Tested:
    """One configuration against one of full's, as its budget's family sees it."""

    config: str
    baseline: str
    variant: str  # the configuration's store-wide name
    baseline_variant: str
    where: str  # the budget's store-wide name
    result: MethodDifference | None
    untested: str | None  # why no test was made (collapsed seeds); None when one was
    holm_p: float | None  # over the family; None where no test was possible
    family_size: int  # the tested comparisons in the family

    @property
    def testable(self) -> bool:
        return self.result is not None and self.untested is None and self.result.testable


class ComparisonBook:
    """The store's comparisons with full, each family computed on first use and kept."""

    def __init__(self, store: Store, cells: pd.DataFrame | None = None) -> None:
        """`cells`: the cells to compare (a `cells_frame`), by default every cell of `store`;
        the store serves their predictions either way."""
        self.store = store
        self._cells = cells
        self._frame: pd.DataFrame | None = None
        self._families: dict[str, list[Tested]] = {}

    @property
    def frame(self) -> pd.DataFrame:
        """The ok, test-scored cells, named by configuration, with their failure modes."""
        if self._frame is None:
            if self._cells is None:
                frame = cells_frame([r for r in self.store.cells() if r["status"] == Status.OK])
            else:
                frame = self._cells[self._cells["status"] == Status.OK]
            if frame.empty:
                self._frame = frame
            else:
                self._frame = with_failure_modes(with_configurations(scored_on_test(frame)))
        return self._frame

    def budgets(self) -> list[str]:
        """Budgets holding a configuration of full and at least one other configuration."""
        if self.frame.empty:
            return []
        out = []
        for budget, group in self.frame.groupby("budget", sort=False):
            is_full = group["method"] == BASELINE
            if is_full.any() and (~is_full).any():
                out.append(budget)
        return out

    def pairs_with_full(
        self, methods: tuple[str, ...]
    ) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
        """(where, the cells of one configuration of a method in `methods`, those of one of
        full's at the same budget): every such pair, never a pool of configurations."""
        out: list[tuple[str, pd.DataFrame, pd.DataFrame]] = []
        if self.frame.empty:
            return out
        for _, group in self.frame.groupby("budget", sort=True):
            is_full = group["method"] == BASELINE
            fulls = [rows for _, rows in group[is_full].groupby("config", sort=True)]
            mine = group[group["method"].isin(methods) & ~is_full]
            for _, config in mine.groupby("config", sort=True):
                out += [(config["where"].iloc[0], config, full) for full in fulls]
        return out

    def family(self, budget: str) -> list[Tested]:
        """Every configuration of `budget` against each of full's there, Holm-corrected."""
        if budget not in self._families:
            self._families[budget] = self._test(budget)
        return self._families[budget]

    def get(self, config: str, baseline: str) -> Tested | None:
        """The comparison of two configurations (their `configuration_key`s), or None when the
        store holds no such pair at one budget with seeds in common."""
        rows = self.frame[self.frame["config"] == config] if not self.frame.empty else None
        if rows is None or rows.empty:
            return None
        for tested in self.family(rows["budget"].iloc[0]):
            if tested.config == config and tested.baseline == baseline:
                return tested
        return None

    def _test(self, budget: str) -> list[Tested]:
        group = self.frame[self.frame["budget"] == budget]
        configs = {key: rows for key, rows in group.groupby("config", sort=True)}
        fulls = [k for k, rows in configs.items() if rows["method"].iloc[0] == BASELINE]
        pending = []
        for base in fulls:
            for key, rows in configs.items():
                if key in fulls:
                    continue
                pending.append(self._pair(key, rows, base, configs[base]))
        found = [t for t in pending if t is not None]
        testable = [t for t in found if t.testable]
        corrected = iter(stats.holm([t.result.pvalue for t in testable]).pvalues)  # type: ignore[union-attr]
        return [
            replace(t, holm_p=next(corrected) if t.testable else None, family_size=len(testable))
            for t in found
        ]

    def _pair(
        self, config: str, mine: pd.DataFrame, baseline: str, full: pd.DataFrame
    ) -> Tested | None:
        variant, base_variant = mine["variant"].iloc[0], full["variant"].iloc[0]
        common = set(mine["seed"]) & set(full["seed"])
        if not common:
            return None
        why = None
        if full["collapsed"].any():
            why = f"the baseline {base_variant} has {collapse_note(full)}"
        elif mine["collapsed"].any():
            why = collapse_note(mine)
        result = None
        if why is None:
            pair = pd.concat([mine, full])
            result = method_level_difference(self.store, pair, variant, base_variant, "variant")
            if result is None:
                why = "its metric cannot be recomputed from the stored rows"
        return Tested(
            config, baseline, variant, base_variant, mine["where"].iloc[0], result, why, None, 0
        )
