"""A cell's code versions against the code registered now."""

from __future__ import annotations

from bench.core.registry import METHODS, TASKS
from bench.core.spec import CellSpec


def check_versions(spec: CellSpec) -> None:
    """A cell made for another version of its method's or task's code would store numbers the
    code now registered did not make under its id: refused."""
    method, task = METHODS.get(spec.method).version, TASKS.get(spec.task).version
    if (spec.method_version, spec.task_version) != (method, task):
        raise ValueError(
            f"{spec.label()}: made for {spec.method} version {spec.method_version} and "
            f"{spec.task} version {spec.task_version}, but the code registered now is version "
            f"{method} and {task}: expand the suite again for cells of the current code"
        )
