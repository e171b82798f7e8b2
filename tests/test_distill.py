"""Distillation: the loss against a hand computation, the teacher's logits cached by teacher
and split, the student's record, and the plan's teacher cells."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bench.core.spec import CellSpec, MethodChoice, SuiteSpec
from bench.regimes.distill import distillation_loss
from tests.helpers import tiny_cell


def test_the_loss_by_hand():
    student = torch.tensor([[2.0, 0.0, -1.0]])
    teacher = torch.tensor([[1.0, 1.0, 0.0]])
    labels = torch.tensor([0])
    t, alpha = 2.0, 0.25

    def softmax(row: list[float], temp: float) -> list[float]:
        e = [math.exp(v / temp) for v in row]
        return [v / sum(e) for v in e]

    hard = -math.log(softmax([2.0, 0.0, -1.0], 1.0)[0])
    p_t, p_s = softmax([1.0, 1.0, 0.0], t), softmax([2.0, 0.0, -1.0], t)
    kl = sum(a * math.log(a / b) for a, b in zip(p_t, p_s, strict=True))
    expected = (1 - alpha) * hard + alpha * t * t * kl
    got = distillation_loss(student, teacher, labels, t, alpha)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # alpha 0: the labels alone; a student equal to its teacher adds no soft term
    assert distillation_loss(student, teacher, labels, t, 0.0).item() == pytest.approx(hard)
    same = distillation_loss(student, student, labels, t, 1.0)
    assert same.item() == pytest.approx(0.0, abs=1e-7)


def _student(method: str = "lora", **budget) -> CellSpec:
    from bench.plan.distillation import distilled

    return distilled(tiny_cell(method, **budget), MethodChoice("full", lr=1e-3))


def test_a_student_trains_its_teacher_once_then_reads_the_cache(tmp_path, monkeypatch):
    from bench.cell.run import run_cell
    from bench.cell.teacher import cache_path

    monkeypatch.setenv("FTBENCH_CACHE", str(tmp_path))
    first = run_cell(_student("lora"))
    taught = first["distillation"]
    teacher = CellSpec.from_json(_student("lora").teacher)
    assert taught["teacher_id"] == teacher.cell_id and taught["trained_in_this_cell"]
    assert taught["temperature"] == 2.0 and taught["alpha"] == 0.5
    cached = torch.load(cache_path(teacher.cell_id, first["data"]["split_hash"]), weights_only=True)
    assert cached["logits"].shape == (200, 3)  # every training example, its 3 classes
    assert taught["teacher_value"] == cached["value"]
    second = run_cell(_student("bitfit"))  # same teacher, same split: no second teacher run
    assert not second["distillation"]["trained_in_this_cell"]
    assert second["distillation"]["teacher_value"] == taught["teacher_value"]


def test_the_teacher_is_the_suites_own_cell_and_each_student_has_a_twin():
    from bench.plan.suite_registry import expand

    suite = SuiteSpec(
        name="distil-test",
        models=("tiny-bert",),
        tasks=("synthetic_rule",),
        methods=(MethodChoice("full", lr=1e-3), MethodChoice("lora")),
        seeds=(0, 1),
        budget={"train_size": 200, "max_steps": 4},
        teacher=MethodChoice("full", lr=1e-3),
    )
    cells = expand(suite)
    plain = [c for c in cells if c.teacher is None]
    students = [c for c in cells if c.teacher is not None]
    assert len(plain) == 4 and len(students) == 2  # full is not distilled from itself
    fulls = {c.seed: c.cell_id for c in plain if c.method == "full"}
    for student in students:
        assert student.method == "lora"
        assert CellSpec.from_json(student.teacher).cell_id == fulls[student.seed]
        assert "distilled from full (T 2, alpha 0.5)" in student.label()
    assert len({c.cell_id for c in cells}) == len(cells)
    only = expand(dataclasses.replace(suite, teacher=None), teacher="full", methods=["lora"])
    assert [c.cell_id for c in only] == [c.cell_id for c in students]


def test_distillation_values_are_refused_where_they_mean_nothing():
    from bench.plan.validate import check_step_options

    with pytest.raises(ValueError, match="change nothing without a teacher"):
        check_step_options(tiny_cell("lora", distill_alpha=0.7))
    with pytest.raises(ValueError, match=r"--distill-alpha 1.5 is not allowed: it must be in"):
        check_step_options(dataclasses.replace(_student(), distill_alpha=1.5))
    with pytest.raises(ValueError, match="--distill-temperature 0 is not allowed"):
        check_step_options(dataclasses.replace(_student(), distill_temperature=0.0))
    with pytest.raises(ValueError, match="glue_stsb is a regression task"):
        regression = dataclasses.replace(tiny_cell("lora"), task="glue_stsb")
        from bench.plan.distillation import distilled

        check_step_options(distilled(regression, MethodChoice("full")))


def test_a_smaller_student_names_its_teachers_model():
    from bench.plan.suite_registry import expand

    suite = SuiteSpec(
        name="distil-small-test",
        models=("tiny-gpt2",),
        tasks=("synthetic_rule",),
        methods=(MethodChoice("lora"),),
        seeds=(0,),
        budget={"train_size": 200, "max_steps": 4},
        teacher=MethodChoice("full", lr=1e-3),
        teacher_model="tiny-bert",
    )
    plain, student = expand(suite)
    teacher = CellSpec.from_json(student.teacher)
    assert plain.teacher is None and teacher.model == "tiny-bert" and student.model == "tiny-gpt2"
    assert "distilled from full on tiny-bert" in student.label()


def test_every_other_layer_keeps_the_teachers_weights():
    from bench.models.sources import every_other_layer, get_model

    torch.manual_seed(0)
    teacher = get_model("tiny-bert").load("classification", 3)[0]
    kept = teacher.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    student = every_other_layer(teacher)
    assert len(student.bert.encoder.layer) == 1 and student.config.num_hidden_layers == 1
    assert torch.equal(student.bert.encoder.layer[0].attention.self.query.weight, kept)
    ids = torch.randint(4, 200, (2, 6))
    assert student(input_ids=ids).logits.shape == (2, 3)


def test_the_page_tests_each_taught_student_against_its_untaught_twin(store, tmp_path, monkeypatch):
    from rich.console import Console

    from bench.execute.runner import run_cells
    from bench.plan.suite_registry import expand
    from bench.report.cells_table import cells_frame
    from bench.report.claims import claims
    from bench.report.comparison_book import ComparisonBook
    from bench.report.distill_table import distillation_rows

    monkeypatch.setenv("FTBENCH_CACHE", str(tmp_path))
    suite = SuiteSpec(
        name="distil-page-test",
        models=("tiny-bert",),
        tasks=("synthetic_rule",),
        methods=(MethodChoice("full", lr=1e-3), MethodChoice("lora", lr=1e-2)),
        seeds=(0, 1),
        budget={"train_size": 400, "max_length": 32, "batch_size": 16, "max_steps": 16},
        teacher=MethodChoice("full", lr=1e-3),
    )
    cells = expand(suite)
    run_cells(cells, store, in_process=True, console=Console(quiet=True))
    ok = cells_frame(store.cells([c.cell_id for c in cells]))
    (row,) = distillation_rows(ok, store).to_dict("records")
    assert row["student"] == "lora" and row["seeds"] == "2 / 2"
    assert row["teacher"] == "full (T 2, alpha 0.5)"
    teachers = ok[(ok["method"] == "full")]["metric"].mean()  # the stored teacher cells
    assert float(row["teacher metric"]) == pytest.approx(teachers, abs=1e-4)
    assert row["Δ (95% interval)"].count("[") == 1 and row["p"] != "—"
    table = claims(ComparisonBook(store))
    kept = table[table["claim"].str.startswith("Distillation keeps the core ability")]
    assert len(kept) == 1 and "of the teachers' metric" in kept["measured"].iloc[0]
