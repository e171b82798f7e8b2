"""Trained models that outlive their cell: the kept state is content-addressed, rebuilds the
trained model exactly, refuses a changed file, and makes a stored cell a teacher without
training it again (`run --keep-states`, then `--distill-from CELL_ID`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.cell.kept_state import STATES_ENV, keep_state, load_state, rebuilt
from bench.cli.main import main
from tests.helpers import tiny_cell


def test_a_kept_state_rebuilds_the_trained_model(tmp_path):
    from bench.cell.run import run_cell
    from bench.serve.merge import logits_of

    spec = tiny_cell("lora")
    seen = {}

    def capture(setup, loaded):
        seen["logits"] = logits_of(loaded.model, loaded.test, setup.device, loaded.pad_id)

    record = run_cell(spec, after_evaluation=capture, keep_state_in=tmp_path)
    kept = record["kept_state"]
    assert (tmp_path / kept["file"]).stat().st_size == kept["bytes"]
    assert kept["file"].startswith(kept["sha256"][:32])
    setup, loaded = rebuilt(spec, load_state(tmp_path, kept))
    again = logits_of(loaded.model, loaded.test, setup.device, loaded.pad_id)
    assert torch.allclose(again, seen["logits"], atol=1e-6)


def test_the_same_state_is_kept_once_and_a_changed_file_is_refused(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    first, second = keep_state(model, tmp_path), keep_state(model, tmp_path)
    assert first == second and len(list(tmp_path.iterdir())) == 1
    path = tmp_path / first["file"]
    path.write_bytes(path.read_bytes()[:-1] + b" ")
    with pytest.raises(ValueError, match="the file changed since the cell kept it"):
        load_state(tmp_path, first)
    with pytest.raises(FileNotFoundError, match="is missing"):
        load_state(tmp_path, {**first, "file": "gone.safetensors"})


def _run(tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "run",
            "--models",
            "tiny-bert",
            "--tasks",
            "synthetic_rule",
            "--seeds",
            "1",
            "--max-steps",
            "4",
            "--train-size",
            "200",
            "--in-process",
            "--store",
            str(tmp_path / "s.sqlite"),
            "--out",
            str(tmp_path / "out"),
            *extra,
        ]
    )


def test_a_stored_cell_teaches_from_its_kept_state(tmp_path, monkeypatch, capsys):
    from bench.cell.teacher import cache_path
    from bench.store.cell_store import Store

    monkeypatch.setenv("FTBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(STATES_ENV, raising=False)
    assert _run(tmp_path, "--methods", "full", "--keep-states") == 0
    monkeypatch.delenv(STATES_ENV)  # the flag set it for this process: the student keeps none
    with Store(tmp_path / "s.sqlite") as store:
        (teacher,) = store.cells()
    kept = teacher["result"]["kept_state"]
    assert (tmp_path / "states" / kept["file"]).exists()
    capsys.readouterr()
    assert _run(tmp_path, "--methods", "lora", "--distill-from", teacher["id"]) == 0
    with Store(tmp_path / "s.sqlite") as store:
        student = next(r for r in store.cells() if r["id"] != teacher["id"])
    taught = student["result"]["distillation"]
    assert taught["teacher_id"] == teacher["id"]
    assert taught["teacher_kept_state"] == kept["sha256"]
    assert not taught["trained_in_this_cell"]  # the logits came from the kept state
    assert json.loads(student["spec"].teacher) == json.loads(teacher["spec"].to_json())
    split = student["result"]["data"]["split_hash"]
    assert cache_path(teacher["id"], split).exists()


def test_an_unknown_teacher_cell_is_refused_by_id(tmp_path, capsys):
    assert _run(tmp_path, "--methods", "lora") == 0
    capsys.readouterr()
    assert _run(tmp_path, "--methods", "lora", "--distill-from", "0123456789abcdef") == 2
    err = capsys.readouterr().err
    assert "--distill-from 0123456789abcdef: no cell 0123456789abcdef" in err
