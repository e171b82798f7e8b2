"""The suites' registry: register_suite checks a suite's budget; expand turns a suite into
cells; all_methods is every built-in method in the order the methods package declares."""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.core.plugins import declared_rank, load_builtin_plugins
from bench.core.registry import COMMON_SETTINGS, METHODS, TASKS, MethodInfo, Registry
from bench.core.spec import CellSpec, MethodChoice, SuiteSpec, freeze_settings

SUITES: Registry[SuiteSpec] = Registry("suite")

BUDGET_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(CellSpec)
    if f.name
    not in {"model", "task", "method", "seed", "settings", "lr", "device", "gpu", "card", "emulate"}
)


# The budget the CPU suites share (methods, tasks, fair): 2,000 training examples, 64 tokens,
# batch 32, one epoch (63 steps on the tweets).
DEFAULT_BUDGET = {"train_size": 2000, "max_length": 64, "batch_size": 32, "epochs": 1.0}
# The embedded default's (`python run_all.py`): a third of the training examples (20 steps),
# so that a first run, install included, takes under 10 minutes on a 2-core AMD EPYC.
FIRST_RUN_BUDGET = {**DEFAULT_BUDGET, "train_size": 640}


def register_suite(suite: SuiteSpec) -> SuiteSpec:
    """Add a suite after checking that its budget and variants name CellSpec fields."""
    named = set(suite.budget).union(*(set(v) for v in suite.variants))
    named |= {
        k
        for choices in (suite.methods, *(m for _, m in suite.also))
        for choice in choices
        for k, _ in choice.budget
    }
    unknown = sorted(named - set(BUDGET_FIELDS))
    if unknown:
        raise ValueError(
            f"suite {suite.name!r}: unknown budget field(s) {unknown}; "
            f"valid: {', '.join(BUDGET_FIELDS)}"
        )
    return SUITES.add(suite.name, suite)


def all_methods() -> tuple[MethodChoice, ...]:
    """Every built-in method (plugins excluded), in the methods package's declared order."""
    load_builtin_plugins()
    builtin = [
        (declared_rank(m.module), i, n)
        for i, (n, m) in enumerate(METHODS.registered())
        if m.builtin
    ]
    return tuple(MethodChoice(n) for _, _, n in sorted(builtin))


def expand(
    suite: SuiteSpec,
    device: str = "cpu",
    *,
    methods: list[str] | None = None,
    tasks: list[str] | None = None,
    models: list[str] | None = None,
    seeds: int | None = None,
    budget: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    gpu: str | None = None,
    card: str | None = None,
    emulate: bool = False,
    lr: float | None = None,
    teacher: str | None = None,
) -> list[CellSpec]:
    """Every cell of the suite (optionally narrowed), with method defaults and lr resolved
    (`lr`, when given, for every method).

    `settings` are laid over every method's (a setting a method lacks is an error); `gpu`,
    `card` and `emulate` mark the cells as planned for a GPU profile and run on a card;
    `teacher` distils every cell from that method's (bench.plan.distillation), as a suite
    with a teacher distils a twin of each.
    """
    from bench.models.sources import canonical_model
    from bench.plan.distillation import with_teachers
    from bench.plan.preferences import canonical

    choices = list(suite.methods)
    if methods:
        methods = [METHODS.canonical(m) for m in methods]  # unknown names fail with suggestions
        known = {c.name for c in choices}
        extra = [MethodChoice(m) for m in methods if m not in known]
        choices = [c for c in choices if c.name in methods] + extra
    settings = settings or {}
    _check_taken(settings, [METHODS.get(c.name) for c in choices])
    seed_list = list(suite.seeds) if seeds is None else list(range(seeds))
    placement = {"gpu": gpu, "card": card, "emulate": emulate}
    model_names = [canonical_model(m) for m in models or suite.models]
    task_names = [TASKS.canonical(t) for t in tasks or suite.tasks]
    crosses = [(task_names, choices)]
    for more_tasks, more_choices in suite.also:
        crosses.append(
            (
                [t for t in map(TASKS.canonical, more_tasks) if not tasks or t in task_names],
                [c for c in more_choices if not methods or c.name in methods],
            )
        )
    pairs = [(task, choice) for names, chosen in crosses for task in names for choice in chosen]
    cells = []
    for model in model_names:
        for task, choice in pairs:
            info = METHODS.get(choice.name)
            given = {**dict(choice.settings), **_taken_by(info, settings)}
            resolved = freeze_settings(info.resolve_settings(given))
            rate = lr if lr is not None else choice.lr if choice.lr is not None else info.lr
            for variant in suite.variants:
                own = dict(choice.budget)
                fields = {**suite.budget, **variant, **own, **(budget or {}), **placement}
                for seed in seed_list:
                    cells.append(
                        CellSpec(
                            model=model,
                            task=task,
                            method=choice.name,
                            seed=seed,
                            settings=resolved,
                            lr=rate,
                            device=device,
                            method_version=info.version,
                            task_version=TASKS.get(task).version,
                            **fields,
                        )
                    )
    cells = with_teachers([canonical(c) for c in cells], suite, teacher)
    return list(dict.fromkeys(cells))  # a narrowed or canonical variant may repeat a cell


def _taken_by(info: MethodInfo, settings: dict[str, Any]) -> dict[str, Any]:
    """The run's settings this method takes (its own and the common ones)."""
    return {k: v for k, v in settings.items() if info.takes(k)}


def _check_taken(settings: dict[str, Any], infos: list[MethodInfo]) -> None:
    """A setting applies to the methods of the run that take it; one that none takes is an
    error naming the settings they do take."""
    unused = [k for k in settings if not any(i.takes(k) for i in infos)]
    if unused:
        names = sorted({k for i in infos for k in i.defaults} | set(COMMON_SETTINGS))
        methods = ", ".join(i.name for i in infos)
        raise ValueError(
            f"setting {', '.join(map(repr, unused))}: no method of this run ({methods}) takes "
            f"it; their settings: {', '.join(names)}"
        )
