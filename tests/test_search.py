"""Learning-rate search: trials on the validation split only, the best rate per configuration
with its spread, edge flag and cost, then the cells at the chosen rates."""

from __future__ import annotations

import dataclasses

from bench.cli.main import main
from bench.search.grid import choose, config_key, final_cells, trial_cells
from bench.store.cell_store import Store
from tests.helpers import tiny_cell


def _trial_record(accuracy: float) -> dict:
    return {
        "status": "ok",
        "primary_metric": "accuracy",
        "metrics": {"accuracy": accuracy},
        "wall_s": 1800.0,
    }


def test_the_best_mean_validation_rate_is_chosen_and_an_edge_flagged(tmp_path):
    cells = [tiny_cell("lora", seed=s) for s in range(3)] + [tiny_cell("full")]
    trials = trial_cells(cells, [1e-4, 1e-3, 1e-2], seeds=2)
    assert len(trials) == 2 * 3 * 2 and all(t.trial for t in trials)
    scores = {("lora", 1e-4): 0.6, ("lora", 1e-3): 0.8, ("lora", 1e-2): 0.7}
    scores |= {("full", 1e-4): 0.9, ("full", 1e-3): 0.5, ("full", 1e-2): 0.4}
    with Store(tmp_path / "s.sqlite") as store:
        for t in trials:
            store.save(t, _trial_record(scores[(t.method, t.lr)] + 0.01 * t.seed))
        choices = choose(store, trials)
    lora, full = choices[config_key(cells[0])], choices[config_key(cells[3])]
    assert lora.lr == 1e-3 and not lora.at_edge and abs(lora.spread - 0.2) < 1e-9
    assert full.lr == 1e-4 and full.at_edge  # the smallest rate won: widen the grid
    assert lora.cost_s == 6 * 1800.0 and lora.trials == 6 and lora.failed == 0
    finals = final_cells(cells, choices)
    assert [c.lr for c in finals] == [1e-3, 1e-3, 1e-3, 1e-4]
    assert [dataclasses.replace(c, lr=1.0) for c in finals] == [
        dataclasses.replace(c, lr=1.0) for c in cells
    ]


def test_a_search_run_never_scores_trials_on_test_and_runs_finals_at_the_choice(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    args = ["run", "--models", "tiny-bert", "--tasks", "synthetic_rule", "--methods", "bitfit"]
    args += ["--seeds", "1", "--train-size", "96", "--search-lr", "1e-4,1e-2", "--in-process"]
    assert main([*args, "--store", str(store), "--out", str(tmp_path)]) == 0
    assert "Search over the learning rate" in (tmp_path / "search.md").read_text()
    with Store(store) as s:
        rows = s.cells()
    trials = [r for r in rows if r["spec"].trial]
    finals = [r for r in rows if not r["spec"].trial]
    assert len(trials) == 4 and len(finals) == 1  # 2 rates x 2 seeds (--search-seeds' default)
    assert {r["result"]["evaluated_on"] for r in trials} == {"validation"}
    assert finals[0]["result"]["evaluated_on"] == "test"
    means = {
        lr: sum(r["result"]["metrics"]["accuracy"] for r in trials if r["spec"].lr == lr) / 2
        for lr in (1e-4, 1e-2)
    }
    assert finals[0]["spec"].lr == max(means, key=means.__getitem__)
    page = (tmp_path / "search.md").read_text()
    assert "seeds per point" in page and "choice within noise?" in page


def test_relative_rates_scale_each_methods_own_rate_and_bad_lists_are_refused():
    import pytest

    from bench.search.grid import parse_rates

    assert parse_rates("x3,x0.3,x1") == ([0.3, 1.0, 3.0], True)
    assert parse_rates("1e-3,1e-4") == ([1e-4, 1e-3], False)
    for bad in ("x1", "x1,1e-3", "1e-3,-1", "a,b"):
        with pytest.raises(ValueError, match="--search-lr"):
            parse_rates(bad)
    cells = [dataclasses.replace(tiny_cell("full"), lr=1e-4), tiny_cell("bitfit")]
    trials = trial_cells(cells, [0.3, 3.0], seeds=1, relative=True)
    bitfit = [_scaled(cells[1].lr, 0.3), _scaled(cells[1].lr, 3)]
    assert [t.lr for t in trials] == [3e-5, 3e-4, *bitfit]


def _scaled(lr: float, factor: float) -> float:
    return float(f"{lr * factor:.6g}")


def test_lr_sets_every_methods_rate_and_the_regime_flags_reach_the_cells(tmp_path, capsys):
    from bench.plan.suites import SUITES, expand

    cells = expand(SUITES.get("fair"), lr=2e-3)
    assert {c.lr for c in cells} == {2e-3} and len({c.method for c in cells}) == 4
    args = ["run", "--suite", "fair", "--tasks", "rotten_tomatoes", "--methods", "lora"]
    args += ["--seeds", "1", "--shots", "8", "--max-steps", "30", "--self-training", "0.9"]
    args += ["--unfreeze-every", "5", "--lr", "1e-3", "--dry-run", "--store", str(tmp_path / "s")]
    assert main(args) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "8-shot" in line and "unfreeze every 5" in line and "self-training >= 0.9" in line


def test_the_key_setting_is_searched_with_the_rate_and_a_budget_thins_the_grid(tmp_path):
    from bench.core.registry import METHODS

    for method, info in METHODS.items():  # every declared key is a real setting
        if info.search is not None:
            name, values = info.search
            assert name in info.defaults, method
            assert info.defaults[name] in values, method  # the default is tried
    assert METHODS.get("full").search is None
    cells = [tiny_cell("lora", seed=s) for s in range(2)] + [tiny_cell("full")]
    trials = trial_cells(cells, [1e-4, 1e-3], seeds=1, with_key=True)
    lora = [t for t in trials if t.method == "lora"]
    assert sorted((t.lr, t.settings_dict()["r"]) for t in lora) == [
        (lr, r) for lr in (1e-4, 1e-3) for r in (4, 8, 16)
    ]
    assert len([t for t in trials if t.method == "full"]) == 2  # full has no key: rates only
    thinned = trial_cells(cells, [1e-4, 1e-3], seeds=1, with_key=True, budget=3)
    assert len([t for t in thinned if t.method == "lora"]) == 3
    scores = {(1e-4, 4): 0.5, (1e-4, 8): 0.6, (1e-4, 16): 0.7, (1e-3, 4): 0.6}
    scores |= {(1e-3, 8): 0.8, (1e-3, 16): 0.75}
    with Store(tmp_path / "s.sqlite") as store:
        for t in lora:
            store.save(t, _trial_record(scores[(t.lr, t.settings_dict()["r"])]))
        choices = choose(store, lora, with_key=True)
    (choice,) = choices.values()
    assert (choice.lr, choice.key, choice.value) == (1e-3, "r", 8)
    assert choice.at_edge and not choice.value_at_edge
    finals = final_cells(cells, choices, with_key=True)
    assert [(c.lr, c.settings_dict().get("r")) for c in finals[:2]] == [(1e-3, 8), (1e-3, 8)]
    assert finals[2] == cells[2]
