"""Multi-task mixtures: several classification tasks trained as one cell with one shared method
(a shared adapter) and a head per task. Each component keeps its own fixed split, so a
mixture's test part is its components' test parts one after another and a component's rows
pair with that task's own cells example by example. Labels are laid end to end (a task's label
ids shifted by the labels before it); an example is scored only over its own task's labels,
in the loss and in prediction, which is exactly a classifier head per task. Training draws
the tasks equally often (a task-balanced sampler), whatever their sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.data.splits import LABEL_SPAN, Encoded, Part, RawData, Split, make_split

if TYPE_CHECKING:
    import torch

PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class Block:
    """One component of a mixture: its labels' place in the joint label ids and its rows'
    place in each part ([start, end) per part name)."""

    task: str
    label_offset: int
    labels: tuple[str, ...]
    metric: str
    metrics: tuple[str, ...]
    rows: dict[str, tuple[int, int]]

    @property
    def span(self) -> tuple[int, int]:
        return (self.label_offset, self.label_offset + len(self.labels))

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "label_offset": self.label_offset,
            "labels": list(self.labels),
            "metric": self.metric,
            "rows": {k: list(v) for k, v in self.rows.items()},
        }


def register_mixture(name: str, components: tuple[str, ...], description: str = "") -> None:
    """Register a mixture of classification tasks as a task: its primary metric is the mean
    of its components' primary metrics (each on its own test part), its sizes the sums."""
    from bench.core.registry import TASKS, TaskInfo

    check_components(name, components)
    infos = [TASKS.get(t) for t in components]
    TASKS.add(
        name,
        TaskInfo(
            name=name,
            kind="classification",
            load=lambda: joint_raw(components),
            labels=joint_labels(components),
            metric="task_mean",
            metrics=("task_mean", "accuracy"),
            source="mixture of " + ", ".join(components),
            val_size=sum(i.val_size for i in infos),
            test_size=sum(i.test_size for i in infos),
            version=1,
            description=description,
            size=sum(i.size or 0 for i in infos) if all(i.size for i in infos) else None,
            general_text=infos[0].general_text,
            components=tuple(components),
        ),
    )


def with_tasks(encoded: Encoded, blocks: tuple[Block, ...], part: str) -> Encoded:
    """A mixture part's encoding marked with each row's component and the components' label
    spans (what the sampler, the loss and prediction read)."""
    encoded.task_ids = task_rows(blocks, part)
    encoded.task_spans = [list(b.span) for b in blocks]
    return encoded


def joint_labels(components: tuple[str, ...]) -> tuple[str, ...]:
    """Every component's labels, named `task:label`, in the components' order."""
    from bench.core.registry import TASKS

    return tuple(f"{t}:{name}" for t in components for name in TASKS.get(t).labels)


def joint_raw(components: tuple[str, ...]) -> RawData:
    """All the components' examples with joint label ids (what a mixture's loader returns;
    its split is made per component by mixture_split)."""
    from bench.core.registry import TASKS

    texts: list[str] = []
    labels: list[Any] = []
    offset = 0
    for name in components:
        raw = TASKS.get(name).load()
        texts += raw.texts
        labels += [offset + y for y in raw.labels]
        offset += len(raw.label_names)
    return RawData(texts=texts, labels=labels, label_names=joint_labels(components))


def check_components(name: str, components: tuple[str, ...]) -> None:
    """A mixture joins two or more distinct classification tasks of single texts."""
    from bench.core.registry import TASKS

    if len(components) < 2 or len(set(components)) != len(components):
        raise ValueError(f"mixture {name!r} needs two or more distinct tasks, got {components}")
    for task in components:
        info = TASKS.get(task)
        if info.kind != "classification" or info.components:
            raise ValueError(
                f"mixture {name!r}: {task!r} is a {info.kind} task"
                + (" (a mixture)" if info.components else "")
                + "; a mixture joins classification tasks"
            )


def mixture_split(components: tuple[str, ...], train_size: int | None = None) -> Split:
    """Each component's own fixed split (its training part capped at `train_size`), joined
    part by part in the components' order, labels shifted into the joint ids."""
    from bench.core.registry import TASKS

    parts: dict[str, list[Part]] = {p: [] for p in PARTS}
    blocks: list[Block] = []
    dropped: dict[str, int] = {}
    starts = dict.fromkeys(PARTS, 0)
    offset = 0
    for name in components:
        info = TASKS.get(name)
        split = make_split(info.load(), info.val_size, info.test_size, train_size)
        rows = {}
        for p in PARTS:
            part = getattr(split, p)
            parts[p].append(Part(texts=part.texts, labels=[offset + y for y in part.labels]))
            rows[p] = (starts[p], starts[p] + len(part))
            starts[p] += len(part)
        for key, count in split.dropped.items():
            dropped[key] = dropped.get(key, 0) + count
        blocks.append(Block(name, offset, split.label_names, info.metric, info.metrics, rows))
        offset += len(split.label_names)
    return Split(
        train=_joined(parts["train"]),
        validation=_joined(parts["validation"]),
        test=_joined(parts["test"]),
        label_names=joint_labels(components),
        dropped=dropped,
        blocks=tuple(blocks),
    )


def task_split(
    info: Any,
    train_size: int | None = None,
    balance: str | None = None,
    shots: int | None = None,
    shot_seed: int = 0,
) -> Split:
    """A task's fixed split: its own (make_split), or a mixture's joined from its components'
    (which no class balancing or k-shot draw applies to: refused)."""
    if not info.components:
        return make_split(
            info.load(),
            info.val_size,
            info.test_size,
            train_size,
            balance=balance,
            shots=shots,
            shot_seed=shot_seed,
        )
    refuse_on_mixture(info.name, {"balance": balance, "shots": shots})
    return mixture_split(info.components, train_size)


MIXTURE_REFUSES = ("balance", "shots", "augment", "self_training", "teacher", "inference")


def refuse_cell_on_mixture(spec: Any) -> None:
    """A cell (CellSpec) on a mixture that asks for what a mixture cannot honour: refused."""
    from bench.core.registry import TASKS

    if TASKS.get(spec.task).components:
        refuse_on_mixture(spec.task, {k: getattr(spec, k) for k in MIXTURE_REFUSES})


def refuse_on_mixture(task: str, given: dict[str, Any]) -> None:
    """What a mixture cell cannot honour: a class balance or k-shot draw over joint labels, EDA,
    self-training, a teacher's logits and the serving stage are not defined per component."""
    named = [k for k in MIXTURE_REFUSES if given.get(k) not in (None, False)]
    if named:
        raise ValueError(
            f"{', '.join(named)}: {task} is a multi-task mixture, whose cells take none of "
            f"{', '.join(MIXTURE_REFUSES)}; run them on its component tasks"
        )


def _joined(parts: list[Part]) -> Part:
    return Part(
        texts=[t for p in parts for t in p.texts], labels=[y for p in parts for y in p.labels]
    )


def task_rows(blocks: tuple[Block, ...], part: str) -> list[int]:
    """The component index of every row of a mixture's part."""
    out: list[int] = []
    for i, block in enumerate(blocks):
        start, end = block.rows[part]
        out += [i] * (end - start)
    return out


def balanced_batch_order(
    tasks: list[int], batch_size: int, epochs: float, seed: int
) -> list[list[int]]:
    """Shuffled index batches in which every task is drawn equally often: `epochs` passes' worth
    of examples (len(tasks) x epochs), a shuffled sequence of tasks with each equally frequent,
    each slot filled from its task's own reshuffled stream (a small task repeats, a large one
    is subsampled). Seeded like batch_order."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    members: dict[int, list[int]] = {}
    for i, task in enumerate(tasks):
        members.setdefault(task, []).append(i)
    keys = sorted(members)
    total = int(round(len(tasks) * epochs))
    slots = [keys[i % len(keys)] for i in range(total)]
    slots = [slots[i] for i in torch.randperm(total, generator=generator).tolist()]
    streams: dict[int, list[int]] = {k: [] for k in keys}
    order: list[int] = []
    for task in slots:
        if not streams[task]:
            rows = members[task]
            streams[task] = [rows[j] for j in torch.randperm(len(rows), generator=generator)]
        order.append(streams[task].pop())
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def without_spans(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch without a mixture's label spans (for code that calls the model on it)."""
    return {k: v for k, v in batch.items() if k != LABEL_SPAN}


def masked_logits(logits: torch.Tensor, span: torch.Tensor) -> torch.Tensor:
    """The logits with every label outside each row's own task set to -inf."""
    import torch

    ids = torch.arange(logits.shape[-1], device=logits.device)
    inside = (ids[None, :] >= span[:, :1]) & (ids[None, :] < span[:, 1:])
    return logits.masked_fill(~inside, float("-inf"))


def task_loss(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's loss, or for a mixture batch the cross-entropy over each row's own task's
    labels (a head per task)."""
    if LABEL_SPAN not in batch:
        return outputs.loss
    import torch.nn.functional as F

    logits = masked_logits(outputs.logits.float(), batch[LABEL_SPAN])
    return F.cross_entropy(logits, batch["labels"])
