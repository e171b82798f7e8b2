"""The `run` command's options, in the four groups its help shows."""

from __future__ import annotations

import argparse

from bench.cli.common import (
    add_plugin_option,
    add_recipe_options,
    add_setting_option,
    add_store_options,
)
from bench.core.vocab import BALANCE, DPO_REFERENCES, PREFERENCE_OBJECTIVES
from bench.execute.options import EXECUTORS


def add_selection(run: argparse.ArgumentParser) -> None:
    """Which cells: the suite or GPU profile, narrowed by name and seeds."""
    run.add_argument(
        "--suite", default=None, help="suite name (see `list suites`; default: default)"
    )
    run.add_argument(
        "--gpu", help="plan and run the matrix of a GPU profile (see `list gpus`), e.g. --gpu 4090"
    )
    run.add_argument(
        "--emulate",
        action="store_true",
        help="with --gpu: cap usable memory at the profile's on a bigger card",
    )
    run.add_argument(
        "--force", action="store_true", help="with --gpu: run cells predicted not to fit"
    )
    run.add_argument("--methods", help="comma-separated methods (default: the suite's)")
    run.add_argument("--tasks", help="comma-separated tasks (default: the suite's)")
    run.add_argument("--models", help="comma-separated models (default: the suite's)")
    run.add_argument(
        "--cells", help="comma-separated cell ids: only these of the suite's (see --dry-run)"
    )
    run.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the suite's)")
    run.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    add_plugin_option(run)
    add_setting_option(
        run, "a setting for every method of the run (repeatable), e.g. --set ewc_lambda=100"
    )
    run.add_argument("--dry-run", action="store_true", help="list the cells, train nothing")
    add_store_options(run)


def add_budget(run: argparse.ArgumentParser) -> None:
    """How each cell trains: data, recipe and regime (unset: the suite's budget)."""
    run.add_argument("--balance", choices=BALANCE, help="balance the training classes")
    run.add_argument("--train-size", type=int, help="cap on training examples (suite's default)")
    run.add_argument("--max-new-tokens", type=int, help="generation length (task's default)")
    add_recipe_options(run, defaults=False)
    run.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the model (compile time recorded apart from step time)",
    )
    run.add_argument(
        "--grad-accumulation", type=int, help="micro-batches per optimizer step (default 1)"
    )
    run.add_argument(
        "--inference",
        action="store_true",
        default=None,
        help="after evaluation, measure serving: the shipped state's size and reload, merging, "
        "latency and throughput beside the base model (classification tasks)",
    )
    run.add_argument(
        "--distill-from",
        metavar="METHOD|CELL_ID",
        help="distil every cell from a teacher: the suite's configuration of METHOD at the "
        "cell's model, task, budget and seed, or the stored cell CELL_ID (its kept state "
        "where --keep-states kept one; else trained first where its logits are not cached; "
        "classification tasks)",
    )
    run.add_argument(
        "--keep-states",
        action="store_true",
        help="keep every trained cell's trained tensors in states/ beside the store, "
        "content-addressed and named in its record (a teacher or reference for later cells)",
    )
    run.add_argument(
        "--distill-temperature",
        type=float,
        metavar="T",
        help="softening of teacher and student outputs in distillation (default 2)",
    )
    run.add_argument(
        "--distill-alpha",
        type=float,
        metavar="A",
        help="the teacher's share of a distilled student's loss, in [0, 1] (default 0.5)",
    )
    run.add_argument(
        "--preference-objective",
        choices=PREFERENCE_OBJECTIVES,
        help="what a preference task trains: dpo (the policy, against a frozen reference) or "
        "reward (a Bradley-Terry reward model on a scalar head); default dpo",
    )
    run.add_argument(
        "--dpo-beta",
        type=float,
        metavar="B",
        help="DPO's beta, > 0: the implicit reward is B log(policy / reference) (default 0.1)",
    )
    run.add_argument(
        "--dpo-reference",
        choices=DPO_REFERENCES,
        help="DPO's reference: auto (the base with the method switched off where that gives "
        "the base back, as for LoRA; else a frozen copy) or copy (always a second model)",
    )
    run.add_argument(
        "--dynamic-mask",
        type=float,
        metavar="P",
        help="mask a share P (0 < P < 1) of each training batch's input tokens, drawn anew "
        "every batch from the seed (special tokens never, labels kept)",
    )
    run.add_argument(
        "--augment",
        type=float,
        metavar="ALPHA",
        help="EDA on the training texts: synonym replacement (WordNet), random insertion, "
        "swap and deletion, each changing a share ALPHA (0 < ALPHA < 1) of a text's words",
    )
    run.add_argument(
        "--augment-copies",
        type=int,
        metavar="K",
        help="with --augment: augmented copies of every training text (default 4, one per "
        "operation)",
    )
    run.add_argument(
        "--grad-clip",
        type=float,
        metavar="NORM",
        help="clip the gradients' global norm at NORM; 0: no clipping (default 1)",
    )
    run.add_argument("--eval-every", type=int, help="validation every N optimizer steps")
    run.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="stop after PATIENCE evaluations without a better validation metric; the best "
        "checkpoint is restored (needs --eval-every)",
    )
    run.add_argument(
        "--lr", type=float, help="learning rate of every method (default: the suite's choice)"
    )
    run.add_argument("--shots", type=int, help="k labelled training examples per class")
    run.add_argument(
        "--max-steps",
        type=int,
        help="exactly N optimizer steps (more passes over small data; default: the suite's)",
    )
    run.add_argument(
        "--unfreeze-every",
        type=int,
        metavar="N",
        help="progressive unfreezing: head and top block first, one more block every N steps",
    )
    run.add_argument(
        "--self-training",
        type=float,
        metavar="THRESHOLD",
        help="with --shots: a teacher labels the rest of the training split; predictions at "
        "least this confident join the k-shot examples to train the student",
    )


def add_search(run: argparse.ArgumentParser) -> None:
    """Choosing each method's rate (and key setting) on the validation split first."""
    run.add_argument(
        "--search-lr",
        metavar="LR,LR,...",
        help="first choose each method's learning rate from these on the validation split "
        "(trials are stored cells), then run the cells at the chosen rates; x0.3,x1,x3: "
        "factors of each method's own rate",
    )
    run.add_argument(
        "--search-seeds",
        type=int,
        default=2,
        help="seeds per search point (default 2: a choice between points needs their noise)",
    )
    run.add_argument(
        "--search-key",
        action="store_true",
        help="with --search-lr: also search the method's key setting (LoRA's r, an adapter's "
        "reduction_factor, a prompt's virtual_tokens, ...; `list methods` shows them)",
    )
    run.add_argument(
        "--search-budget",
        type=int,
        metavar="N",
        help="with --search-lr: at most N trials per configuration (the grid thinned evenly; "
        "with --executor ray, N draws for Ray Tune + ASHA, default 8)",
    )


def add_execution(run: argparse.ArgumentParser) -> None:
    """Where and how the cells run."""
    run.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    run.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local worker processes (default) or a Ray cluster (pip install -e '.[cluster]')",
    )
    run.add_argument("--address", help="with --executor ray: the cluster (default: a local one)")
    run.add_argument(
        "--gpus", help="GPUs to use, one worker each, e.g. 0,1 (default: every visible GPU)"
    )
    run.add_argument(
        "--workers", type=int, help="cells at once on the CPU (default 1; they share the cores)"
    )
    run.add_argument(
        "--in-process",
        action="store_true",
        help="run cells in this process (debugging; no crash isolation)",
    )
