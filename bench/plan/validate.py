"""Bad input refused before any training: each value against its declared type and range."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from bench.core.registry import METHODS
from bench.core.settings import ROLES
from bench.core.spec import CellSpec
from bench.core.versions import check_versions


def check_setting(method: str, name: str, value: Any) -> None:
    """Raise ValueError naming the setting, the bad value and what it must be (the rule the
    method declared for it; module roles against every architecture's role table)."""
    rule = METHODS.get(method).rule_for(name)
    if rule is ROLES:
        _check_roles(method, name, value)
    elif rule is not None:
        rule.check(method, name, value)


def _check_roles(method: str, name: str, value: Any) -> None:
    from bench.models.sources import ROLE_GROUPS, ROLE_TABLES, expand_roles

    if value is None:
        return
    known = sorted({role for table in ROLE_TABLES.values() for role in table})
    items = [value] if isinstance(value, str) and value in ROLE_GROUPS else value
    unknown = [r for r in expand_roles(items) if r not in known]
    if unknown:
        raise ValueError(
            f"{method}: setting {name} names {', '.join(map(repr, unknown))}, which no "
            f"architecture has; roles: {', '.join(known)}; groups: {', '.join(ROLE_GROUPS)}"
        )


def check_at_least(option: str, value: float | None, low: float, strict: bool = False) -> None:
    """An option's number: None (unset) or >= low (> low when strict)."""
    if value is None:
        return
    if value < low or (strict and value == low):
        sign = ">" if strict else ">="
        raise ValueError(f"{option} {value:g} is not allowed: it must be {sign} {low:g}")


def check_device(name: str) -> None:
    """A device this machine has: cpu, or cuda / cuda:N when CUDA sees that many GPUs."""
    import torch

    if not name.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r}: this machine has no CUDA device (torch "
            f"{torch.__version__} sees none); use --device cpu, or plan for a card with "
            f"--gpu NAME --dry-run"
        )
    index = int(name.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"cuda:0..cuda:{torch.cuda.device_count() - 1}"
        )


def check_length_on_model(model: str, max_length: int) -> None:
    """A max_length the model's position table cannot hold (where it is known before load)."""
    from bench.models.sources import get_model

    if model.startswith("hub:"):  # its config would need the network: checked when it loads
        return
    positions = get_model(model).max_positions
    if positions and max_length > positions:
        raise ValueError(
            f"max_length {max_length} exceeds {model}'s {positions} positions: use at most "
            f"--max-length {positions}"
        )


def check_targets_on_model(model: str, method: str, name: str, value: Any) -> None:
    """Roles a `config:` model's architecture lacks (a group may name roles some lack). Other
    sources are checked when the model loads (a hub model's config would need the network)."""
    from bench.models.sources import ROLE_GROUPS, ROLE_TABLES, expand_roles, get_model

    if value is None or not model.startswith("config:"):
        return
    model_type = (get_model(model).extra.get("config") or {}).get("model_type")
    table = ROLE_TABLES.get(model_type)
    if table is None or (isinstance(value, str) and value in ROLE_GROUPS):
        return
    missing = [r for r in expand_roles(value) if r not in table]
    if missing:
        raise ValueError(
            f"{method}: setting {name} names {', '.join(map(repr, missing))}, which {model} "
            f"({model_type}) does not have; its roles: {', '.join(table)}"
        )


def _check_self_training(spec: CellSpec) -> None:
    from bench.core.registry import TASKS

    if not 0 < spec.self_training <= 1:
        raise ValueError(
            f"self-training threshold {spec.self_training}: a probability, 0 < threshold <= 1"
        )
    if spec.shots is None:
        raise ValueError(
            "self-training labels the training examples a k-shot cell did not draw: "
            "set --shots K as well"
        )
    kind = TASKS.get(spec.task).kind
    if kind != "classification":
        raise ValueError(f"self-training needs a classification task; {spec.task} is {kind}")


def check_step_options(spec: CellSpec) -> None:
    """The step's memory options against what they need: chunked loss a causal LM's loss, the
    optimizer step in backward no global gradient norm, accumulation or loss scaling."""
    from bench.core.registry import TASKS
    from bench.models.precision import get_recipe

    check_at_least("grad_clip", spec.grad_clip, 0)
    check_at_least("loss_chunks", spec.loss_chunks, 1)
    kind = TASKS.get(spec.task).kind
    if spec.loss_chunks and kind != "generation":
        raise ValueError(
            f"loss_chunks {spec.loss_chunks}: chunked cross-entropy is for a causal LM's loss "
            f"over its vocabulary; {spec.task} is a {kind} task (use a "
            "generation task, or leave --loss-chunks unset)"
        )
    if spec.inference and kind in ("generation", "preference", "token"):
        raise ValueError(
            f"inference: the serving stage measures classifiers and regressors for now; "
            f"{spec.task} is a {kind} task (leave --inference unset)"
        )
    check_distillation(spec)
    check_preference(spec)
    check_dynamic_mask(spec, kind)
    check_augment(spec, kind)
    if not spec.optimizer_in_backward:
        return
    why = "the optimizer step in backward steps each parameter as its gradient arrives"
    if spec.grad_clip:
        raise ValueError(
            f"grad_clip {spec.grad_clip:g}: {why}, so there is no global gradient norm to clip; "
            "set --grad-clip 0"
        )
    if spec.grad_accumulation != 1:
        raise ValueError(
            f"grad_accumulation {spec.grad_accumulation}: {why}, before the next micro-batch "
            "could add to the gradient; use 1"
        )
    if get_recipe(spec.precision).loss_scaling:
        raise ValueError(
            f"precision {spec.precision}: {why}, before the loss scaler could check every "
            "gradient for infinities; use bf16, amp-bf16 or fp32"
        )


def check_preference(spec: CellSpec) -> None:
    """Preference settings: on a preference task only, each one of its values; DPO trains a
    causal language model (a decoder), a reward model any model with a scalar head."""
    from bench.core.registry import TASKS
    from bench.core.vocab import DPO_REFERENCES, PREFERENCE_OBJECTIVES
    from bench.models.sources import get_model
    from bench.plan.preferences import DEFAULTS

    given = {n: getattr(spec, n) for n, default in DEFAULTS.items() if getattr(spec, n) != default}
    kind = TASKS.get(spec.task).kind
    if kind != "preference":
        if given:
            names = ", ".join(f"--{n.replace('_', '-')} {v}" for n, v in given.items())
            tasks = [n for n, t in TASKS.registered() if t.kind == "preference"]
            raise ValueError(
                f"{names}: {spec.task} is a {kind} task; these settings are for preference "
                f"tasks ({', '.join(tasks)})"
            )
        return
    if spec.preference_objective not in PREFERENCE_OBJECTIVES:
        raise ValueError(
            f"preference objective {spec.preference_objective!r} is not one of "
            f"{', '.join(PREFERENCE_OBJECTIVES)}"
        )
    if spec.dpo_reference not in DPO_REFERENCES:
        raise ValueError(
            f"dpo reference {spec.dpo_reference!r} is not one of {', '.join(DPO_REFERENCES)}"
        )
    check_at_least("--dpo-beta", spec.dpo_beta, 0, strict=True)
    model_kind = get_model(spec.model).kind
    if spec.preference_objective == "dpo" and model_kind != "decoder":
        raise ValueError(
            f"DPO scores responses by a causal language model's log-probabilities; {spec.model} "
            "is an encoder (use a decoder such as smollm2, or --preference-objective reward)"
        )
    if spec.teacher is not None or spec.self_training is not None or spec.shots is not None:
        raise ValueError(
            f"{spec.task}: distillation, self-training and k-shot draws are for classification "
            "tasks; a preference task trains on its pairs"
        )


def check_distillation(spec: CellSpec) -> None:
    """A distilled cell: a classification task, its teacher's, and a temperature and mix that
    mean something; the distillation settings alone (no teacher) are refused."""
    from bench.core.registry import TASKS
    from bench.plan.distillation import untaught

    if spec.teacher is None:
        if spec != untaught(spec):
            raise ValueError(
                "--distill-temperature / --distill-alpha change nothing without a teacher: "
                "give --distill-from METHOD"
            )
        return
    kind = TASKS.get(spec.task).kind
    if kind != "classification":
        raise ValueError(
            f"distillation: the teacher's soft labels are class distributions; {spec.task} is a "
            f"{kind} task (use a classification task)"
        )
    teacher = CellSpec.from_json(spec.teacher)
    if teacher.task != spec.task:
        raise ValueError(
            f"distillation: the teacher trains on {teacher.task}, the student on {spec.task}"
        )
    check_at_least("--distill-temperature", spec.distill_temperature, 0, strict=True)
    if not 0 <= spec.distill_alpha <= 1:
        raise ValueError(
            f"--distill-alpha {spec.distill_alpha:g} is not allowed: it must be in [0, 1] "
            "(0: the labels alone, 1: the teacher alone)"
        )
    if spec.self_training is not None:
        raise ValueError(
            "distillation and self-training each bring a teacher: give one of --distill-from "
            "and --self-training"
        )


def check_dynamic_mask(spec: CellSpec, kind: str) -> None:
    """--dynamic-mask: a share strictly between 0 and 1, on a task whose labels are not its
    inputs (a causal LM predicts its own tokens: masking them would change its labels)."""
    from bench.regimes.dynamic_mask import MASKABLE_KINDS

    if spec.dynamic_mask is None:
        return
    if not 0 < spec.dynamic_mask < 1:
        raise ValueError(
            f"--dynamic-mask {spec.dynamic_mask:g} is not allowed: it must be > 0 and < 1"
        )
    if kind not in MASKABLE_KINDS:
        raise ValueError(
            f"--dynamic-mask: {spec.task} is a {kind} task; masking applies to "
            f"{', '.join(MASKABLE_KINDS)} tasks, whose labels are apart from their inputs"
        )


def check_augment(spec: CellSpec, kind: str) -> None:
    """--augment: EDA's alpha strictly between 0 and 1, at least one copy, on a task whose
    examples are whole texts with a label (its operations move words off any word tags)."""
    if spec.augment is None:
        if spec.augment_copies != 4:
            raise ValueError(
                f"--augment-copies {spec.augment_copies} changes nothing without --augment ALPHA"
            )
        return
    if not 0 < spec.augment < 1:
        raise ValueError(f"--augment {spec.augment:g} is not allowed: it must be > 0 and < 1")
    check_at_least("--augment-copies", spec.augment_copies, 1)
    if kind not in ("classification", "regression"):
        raise ValueError(
            f"--augment: {spec.task} is a {kind} task; EDA edits the words of a labelled text "
            "(classification and regression tasks)"
        )


def check_cells(cells: Iterable[CellSpec], given: Collection[str] = ()) -> None:
    """Every cell's settings and budget, each distinct value once, before anything trains;
    `given` names the budget fields the user set (an explicit train_size is checked against
    each task's training part; the suites' own caps may exceed a small task's)."""
    from bench.data.mixture import refuse_cell_on_mixture
    from bench.plan.data_budget import check_shots, check_train_size

    cells = list(cells)
    seen: set[tuple[str, tuple]] = set()
    on_model: set[tuple[str, str, tuple]] = set()
    on_model_length: set[tuple[str, int]] = set()
    for spec in cells:
        check_versions(spec)
        key = (spec.method, spec.settings)
        if key not in seen:
            seen.add(key)
            for name, value in spec.settings:
                check_setting(spec.method, name, value)
        if (spec.model, spec.max_length) not in on_model_length:
            on_model_length.add((spec.model, spec.max_length))
            check_length_on_model(spec.model, spec.max_length)
        if (spec.model, spec.method, spec.settings) not in on_model:
            on_model.add((spec.model, spec.method, spec.settings))
            for name, value in spec.settings:
                if METHODS.get(spec.method).rule_for(name) is ROLES:
                    check_targets_on_model(spec.model, spec.method, name, value)
        check_at_least("lr", spec.lr, 0, strict=True)
        for option, value in (
            ("train_size", spec.train_size),
            ("batch_size", spec.batch_size),
            ("max_length", spec.max_length),
            ("max_steps", spec.max_steps),
            ("max_new_tokens", spec.max_new_tokens),
            ("grad_accumulation", spec.grad_accumulation),
            ("early_stopping", spec.early_stopping),
            ("shots", spec.shots),
            ("eval_every", spec.eval_every),
            ("unfreeze_every", spec.unfreeze_every),
        ):
            check_at_least(option, value, 1)
        refuse_cell_on_mixture(spec)
        if spec.self_training is not None:
            _check_self_training(spec)
        check_at_least("epochs", spec.epochs, 0, strict=True)
        check_step_options(spec)
        if spec.early_stopping and not spec.eval_every:
            raise ValueError(
                f"early stopping (patience {spec.early_stopping}) evaluates every eval_every "
                "steps: set --eval-every N as well"
            )
    check_shots(cells)
    if "train_size" in given:
        check_train_size(cells)
