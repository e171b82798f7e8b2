"""A search as a run does it: the trials (a local grid through the run's executor, or Ray Tune
with ASHA), the choices printed and written, and the cells at the chosen points."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

from bench.core.spec import CellSpec
from bench.execute.options import ExecutionOptions
from bench.plan.validate import check_at_least, check_cells
from bench.store.cell_store import Store


@dataclass(frozen=True)
class SearchOptions:
    """`rates` as the user wrote them (`1e-4,1e-3` or factors `x0.3,x1,x3`), seeds per trial,
    whether the method's key setting is searched too, and at most `budget` trials each."""

    rates: str
    seeds: int = 2
    with_key: bool = False
    budget: int | None = None

    def check(self) -> None:
        check_at_least("--search-seeds", self.seeds, 1)
        check_at_least("--search-budget", self.budget, 1)


def search(
    cells: list[CellSpec],
    options: SearchOptions,
    execution: ExecutionOptions,
    device: str,
    store_path: str,
    out: str,
    console: Console,
) -> list[CellSpec]:
    """Run the search's trials, print and write the choices; the cells at the chosen points."""
    from bench.execute.executors import make_executor
    from bench.execute.runner import run_cells
    from bench.report.suite_page import write_report
    from bench.search.grid import choice_table, choose, final_cells, parse_rates, trial_cells

    lrs, relative = parse_rates(options.rates)
    options.check()
    what = "learning rate and key setting" if options.with_key else "learning rate"
    with Store(store_path) as store:
        if execution.executor == "ray":
            from bench.search.asha import asha_search

            budget = options.budget or 8
            console.print(f"Ray Tune + ASHA over the {what}: {budget} trials per configuration")
            trials = asha_search(
                cells,
                store,
                lrs=lrs,
                relative=relative,
                with_key=options.with_key,
                budget=budget,
                plugins=list(execution.plugins),
                address=execution.address,
                command=execution.command,
            )
        else:
            trials = trial_cells(
                cells, lrs, options.seeds, relative, options.with_key, options.budget
            )
            check_cells(trials)  # a key value may not suit a model (a rank above a small width)
            console.print(f"search over the {what}: {len(trials)} trials on the validation split")
            run_cells(
                trials,
                store,
                console=console,
                command=execution.command,
                executor=make_executor(execution, device),
            )
        choices = choose(store, trials, options.with_key)
    table = choice_table(choices).to_markdown(index=False, disable_numparse=True)
    text = (
        f"# Search over the {what}\n\nCommand: `{execution.command}`\n\nEach point's mean "
        f"validation metric over {options.seeds} seed(s); the test split is never read by "
        f"a trial.\n\n{table}\n"
    )
    print(text)
    console.print(f"search written to {write_report(text, out, 'search')}")
    return final_cells(cells, choices, options.with_key)
