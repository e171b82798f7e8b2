from bench.cell.run import run_cell
from bench.meters.energy import RAPL
from tests.helpers import tiny_cell


def test_short_training_lowers_the_loss_and_beats_chance():
    spec = tiny_cell("full", train_size=None, max_steps=None, epochs=3.0, batch_size=32, lr=3e-3)
    steps = []
    record = run_cell(spec, on_step=lambda s, t, loss: steps.append((s, t, loss)))
    assert record["status"] == "ok"
    losses = [loss for _, _, loss in steps]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.2
    assert record["metrics"]["accuracy"] > 0.6  # chance is 1/3
    assert steps[-1][0] == steps[-1][1] == record["speed"]["steps"]


def test_record_has_every_meter():
    record = run_cell(tiny_cell("lora", max_steps=6))
    assert record["speed"]["steady_steps"] == 3 and record["speed"]["warmup_steps_excluded"] == 3
    assert record["speed"]["samples_per_s"] > 0 and record["speed"]["tokens_per_s"] > 0
    assert record["memory"]["rss_peak_bytes"] >= record["memory"]["rss_baseline_bytes"] > 0
    if _rapl_readable():
        assert record["energy"]["energy_j"] > 0
    else:  # no counter: n/a, never 0
        assert record["energy"]["energy_j"] is None and record["energy"]["energy_source"] == "n/a"
    assert len(record["predictions"]) == 200
    assert record["data"]["train_examples"] == 200
    assert 0 < record["params"]["trainable_pct"] < 100
    assert record["env"]["libraries"]["torch"]


def _rapl_readable() -> bool:
    try:
        int((RAPL / "energy_uj").read_text())
        return True
    except (OSError, ValueError):
        return False
