"""--train-size and --shots against each task's training part, before anything trains: a value
that would not change the data (a cap at or above the whole part) or could not be honoured (more
shots than the rarest class has) is refused, so it never makes cells with new ids."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from bench.core.registry import TASKS
from bench.core.spec import CellSpec


@dataclass(frozen=True)
class TrainingPart:
    """A task's training part under a cap: its groups (the unit the cap counts: examples that
    share an input are one) and its examples per class name (classification only)."""

    groups: int
    per_class: dict[str, int]


@cache
def training_part(task: str, train_size: int | None) -> TrainingPart:
    """The training part of the task's fixed split, capped at train_size (None: the whole)."""
    from bench.data.mixture import task_split

    info = TASKS.get(task)
    split = task_split(info, train_size)
    train = split.train
    pairs = train.texts_b or [None] * len(train.texts)
    groups = len({(t.lower(), b) for t, b in zip(train.texts, pairs, strict=True)})
    per_class: dict[str, int] = {}
    if info.kind == "classification":
        counts = Counter(train.labels)
        per_class = {split.label_names[i]: counts[i] for i in range(len(split.label_names))}
    return TrainingPart(groups, per_class)


def _local(task: str) -> bool:
    """A task whose data is on this machine (a hub task's would need the network: its
    sizes are checked when its cells load it)."""
    return not TASKS.get(task).source.startswith("hub:")


def check_train_size(cells: Iterable[CellSpec]) -> None:
    """An explicit --train-size must cap every task's training part below its whole size."""
    for task, train_size in sorted({(c.task, c.train_size) for c in cells}, key=str):
        if train_size is None or not _local(task):
            continue
        components = TASKS.get(task).components  # a mixture caps each of its tasks
        whole = max(training_part(t, None).groups for t in components or (task,))
        if train_size >= whole:
            raise ValueError(
                f"--train-size {train_size}: {task}'s training part has {whole} examples, so "
                f"this cap would not change its data (its cells would repeat the uncapped ones "
                f"under new ids); use a value below {whole}, or leave --train-size out"
            )


def check_shots(cells: Iterable[CellSpec]) -> None:
    """k-shot cells draw k examples of every class: at most the rarest class's count, and only
    on classification tasks."""
    for task, train_size, shots in sorted(
        {(c.task, c.train_size, c.shots) for c in cells if c.shots is not None}, key=str
    ):
        kind = TASKS.get(task).kind
        if kind != "classification":
            raise ValueError(
                f"--shots {shots}: k-shot draws k examples of every class; {task} is a {kind} task"
            )
        if not _local(task):
            continue
        per_class = training_part(task, train_size).per_class
        rarest = min(per_class, key=per_class.__getitem__)
        if shots > per_class[rarest]:
            capped = f" (capped at {train_size})" if train_size is not None else ""
            raise ValueError(
                f"--shots {shots}: {task}'s training part{capped} has {per_class[rarest]} "
                f"examples of its rarest class {rarest!r}; use at most --shots "
                f"{per_class[rarest]}"
            )
