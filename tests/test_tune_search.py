"""The search on Ray Tune with ASHA: every trial stored (ok, or pruned with the score ASHA
stopped it at), scored on validation only, seeded draws read back on a second run."""

from __future__ import annotations

import pytest

from bench.search.grid import choose
from bench.store.cell_store import Store
from tests.helpers import tiny_cell


@pytest.mark.tune
def test_asha_stores_every_trial_prunes_on_validation_and_reads_back_on_a_rerun(tmp_path):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.tune")
    from bench.search.asha import asha_search

    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - a machine that cannot start Ray is not our bug
        pytest.skip(f"a local Ray instance could not start here: {exc}")
    cell = tiny_cell("lora", model="config:tiny-bert", max_steps=8, train_size=96)
    options = {"lrs": [1e-5, 3e-2], "relative": False, "with_key": True, "budget": 3}
    try:
        with Store(tmp_path / "s.sqlite") as store:
            trials = asha_search([cell], store, plugins=[], **options)
            first = {r["id"]: (r["status"], r["finished_at"]) for r in store.cells()}
            again = asha_search([cell], store, plugins=[], **options)
            second = {r["id"]: (r["status"], r["finished_at"]) for r in store.cells()}
            choices = choose(store, trials, with_key=True)
            records = {t.cell_id: store.get(t.cell_id) for t in trials}
    finally:
        ray.shutdown()
    assert len(trials) == 3 and again == trials
    assert all(t.trial and t.eval_every and 1e-5 <= t.lr <= 3e-2 for t in trials)
    assert {t.settings_dict()["r"] for t in trials} <= {4, 8, 16}
    statuses = [r["status"] for r in records.values()]
    assert set(statuses) <= {"ok", "pruned"} and "ok" in statuses
    ok = [r for r in records.values() if r["status"] == "ok"]
    assert all(r["result"]["evaluated_on"] == "validation" for r in ok)
    assert {s for s, _ in second.values() if s == "ok"} and all(
        second[i] == first[i] for i, (s, _) in first.items() if s == "ok"
    )  # an ok trial is read back, not trained again
    (choice,) = choices.values()
    assert choice.pruned == statuses.count("pruned") and choice.key == "r"
