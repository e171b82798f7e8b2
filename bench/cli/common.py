"""What the commands share: option groups, the device, the command line, `KEY=VALUE`."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from bench.core.vocab import OPTIMIZERS, RECIPE_NAMES, StepShape
from bench.store.cell_store import DEFAULT_STORE, Store


def csv_list(text: str | None) -> tuple[str, ...] | None:
    """'a, b,,c' -> ('a', 'b', 'c'); None or '' -> None."""
    names = tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()
    return names or None


def resolve_device(name: str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu; cpu and cuda[:N] as given."""
    if name == "auto":
        if not _gpu_device_nodes():
            return "cpu"  # no GPU driver on this Linux machine: torch need not load to say so
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device {name!r} is not one of: auto, cpu, cuda, cuda:N")
    return name


def _gpu_device_nodes() -> bool:
    """True unless this is Linux without NVIDIA's or AMD's (ROCm) device nodes."""
    if not sys.platform.startswith("linux"):
        return True
    return Path("/dev/nvidiactl").exists() or Path("/dev/kfd").exists()


def command_line() -> str:
    return "python run_all.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])


def parse_setting(text: str) -> tuple[str, object]:
    """'r=16' -> ('r', 16); 'targets=q,v' -> ('targets', ('q', 'v')); JSON literals allowed."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"setting {text!r} is not of the form KEY=VALUE")
    if value in ("None", "none"):
        return key.strip(), None
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), tuple(v.strip() for v in value.split(",")) if "," in value else value


def add_store_options(parser: argparse.ArgumentParser, out: bool = True) -> None:
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store path")
    if out:
        parser.add_argument(
            "--out",
            default=None,
            help="folder for markdown reports and plots (default: reports/ beside the store, "
            "e.g. results/reports/)",
        )


def add_plugin_option(parser: argparse.ArgumentParser, what: str = "methods or tasks") -> None:
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        help=f"a Python file that registers {what} (repeatable)",
    )


def add_setting_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_recipe_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """Options that `run` and `estimate` share, with the same names (`run` leaves them unset
    so that the suite's budget stands; `estimate` defaults to the GPU workload's StepShape)."""

    shape = StepShape()

    def default(value: object) -> object:
        return value if defaults else None

    parser.add_argument(
        "--precision",
        choices=list(RECIPE_NAMES),
        default=default(shape.precision),
        help="precision recipe",
    )
    parser.add_argument(
        "--batch-size", type=int, default=default(shape.batch_size), help="sequences per step"
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=default(shape.max_length),
        help="tokens per sequence (the cap)",
    )
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=default(shape.optimizer), help="optimizer"
    )
    parser.add_argument(
        "--grad-checkpointing",
        action="store_true",
        default=None if not defaults else False,
        help="activation checkpointing of every block",
    )
    parser.add_argument(
        "--optimizer-in-backward",
        action="store_true",
        default=None if not defaults else False,
        help="step each parameter as its gradient arrives and free the gradient (torchtune's "
        "optimizer_in_bwd; needs --grad-clip 0 and no gradient accumulation)",
    )
    parser.add_argument(
        "--loss-chunks",
        type=int,
        metavar="N",
        default=default(shape.loss_chunks),
        help="causal LM loss upcast to fp32 in N chunks of tokens, forward and backward "
        "(torchtune's chunked cross-entropy; generation tasks)",
    )


def stored_statuses(path: str, cell_ids: list[str]) -> dict[str, str | None]:
    """Each cell's stored status, without creating a store where there is none (a dry run)."""
    if not Path(path).exists():
        return {}
    with Store(path) as store:
        return {cell_id: store.status(cell_id) for cell_id in cell_ids}


def open_existing(path: str) -> Store:
    """An existing store opened for reading alone (report, status, export)."""
    return Store(path, read_only=True)
