"""Distilled cells in a plan: each student paired with its teacher, the suite's configuration
of the teacher's method at the student's model, task, budget and seed."""

from __future__ import annotations

import dataclasses

from bench.core.registry import METHODS
from bench.core.spec import CellSpec, MethodChoice, SuiteSpec, freeze_settings

# An untaught cell's distillation fields: CellSpec's defaults
PLAIN = {
    f.name: f.default
    for f in dataclasses.fields(CellSpec)
    if f.name in ("teacher", "distill_temperature", "distill_alpha")
}


def untaught(spec: CellSpec) -> CellSpec:
    """The cell without a teacher (its twin in a suite with one)."""
    return dataclasses.replace(spec, **PLAIN)


def teacher_choice(suite: SuiteSpec, method: str) -> MethodChoice:
    """The suite's own choice of the teacher's method (its rate and settings), else the
    registry's defaults for it."""
    name = METHODS.canonical(method)
    for choice in suite.methods:
        if choice.name == name:
            return choice
    return MethodChoice(name)


def teacher_of(student: CellSpec, choice: MethodChoice, model: str | None = None) -> CellSpec:
    """The teacher cell of a student: the student's task, budget and seed, on `model` (else
    the student's), trained with the teacher's method (no teacher of its own, no serving)."""
    info = METHODS.get(choice.name)
    return dataclasses.replace(
        student,
        model=model or student.model,
        method=choice.name,
        settings=freeze_settings(info.resolve_settings(dict(choice.settings))),
        lr=choice.lr if choice.lr is not None else info.lr,
        method_version=info.version,
        inference=False,
        **PLAIN,
    )


def distilled(student: CellSpec, choice: MethodChoice, model: str | None = None) -> CellSpec:
    """The student taught by its teacher (the distillation settings it already carries)."""
    return dataclasses.replace(student, teacher=teacher_of(student, choice, model).to_json())


def with_teachers(cells: list[CellSpec], suite: SuiteSpec, asked: str | None) -> list[CellSpec]:
    """`asked` (run --distill-from METHOD): every cell distilled from that method's teacher;
    a stored teacher cell's spec JSON (run --distill-from CELL_ID): every cell distilled from
    that one cell. Else a suite with a teacher keeps its cells as they are (the students
    without a teacher) and adds each one's distilled twin, except the teacher's own
    configuration."""
    if asked is not None and asked.startswith("{"):
        return [dataclasses.replace(c, teacher=asked) for c in cells]
    if asked is not None:
        choice = teacher_choice(suite, asked)
        return [distilled(c, choice) for c in cells]
    if suite.teacher is None:
        return cells
    out: list[CellSpec] = []
    for cell in cells:
        plain = untaught(cell)
        out.append(plain)
        if teacher_of(plain, suite.teacher, suite.teacher_model) != plain:
            out.append(distilled(cell, suite.teacher, suite.teacher_model))
    return out
