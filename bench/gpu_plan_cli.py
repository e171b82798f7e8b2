"""What `--gpu`, `--dry-run` and `estimate` print and decide: the card, the plan, its table."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.gpus import GPUS, DetectedGpu, GpuProfile, detect_gpus, get_gpu
from bench.plan import FITS, WONT_FIT, PlannedCell
from bench.spec import CellSpec

GIB = 2**30


class NoGpu(Exception):
    """A real `--gpu` run on a machine without an NVIDIA GPU (exit 2, with the way out)."""


@dataclass(frozen=True)
class Placement:
    """The profile a run is planned for, the card it runs on, and how."""

    profile: GpuProfile
    card: str  # a profile name, or the NVML name made into a slug
    detected: DetectedGpu | None
    emulate: bool
    warning: str | None = None


def card_name(found: DetectedGpu) -> str:
    """The profile name of a detected card, or its NVML name as a slug (`nvidia-a10`)."""
    if found.profile is not None:
        return found.profile.name
    return re.sub(r"[^a-z0-9]+", "-", found.name.casefold()).strip("-")


def place(
    gpu: str, emulate: bool, dry_run: bool, detected: Sequence[DetectedGpu] | None = None
) -> Placement:
    """Where cells planned for `gpu` will run. Without a GPU, a dry run plans for the profile's
    own card; a real run raises NoGpu."""
    profile = get_gpu(gpu)
    found = list(detect_gpus() if detected is None else detected)
    if not found:
        if not dry_run:
            raise NoGpu(
                f"--gpu {profile.name}: this machine has no NVIDIA GPU (NVML found none). "
                f"`python run_all.py --gpu {profile.name} --dry-run` shows the plan and "
                f"`python run_all.py estimate --gpu {profile.name}` the predicted memory."
            )
        return Placement(profile, profile.name, None, emulate)
    card = found[0]
    name = card_name(card)
    warning = None
    if emulate:
        if card.memory_bytes < profile.memory_bytes:
            raise ValueError(
                f"--emulate {profile.name} ({profile.memory_bytes / GIB:.1f} GiB) needs a card "
                f"at least that big; this one ({card.name}) has {card.memory_bytes / GIB:.1f} GiB"
            )
    elif name != profile.name:
        warning = (
            f"planned for {profile.title} but running on {card.name}: results are labelled "
            f"with the real card ({name}); --emulate caps memory at the profile's size"
        )
    return Placement(profile, name, card, emulate, warning)


def _gib(value: int | None) -> str:
    return f"{value / GIB:.1f}" if value is not None else "—"


def plan_frame(planned: Sequence[PlannedCell], statuses: dict[str, str | None]) -> pd.DataFrame:
    """One row per cell: id, stored status, verdict, predicted peaks and the label."""
    rows = []
    for p in planned:
        est = p.estimate
        rows.append(
            {
                "cell": p.spec.cell_id,
                "stored": statuses.get(p.spec.cell_id) or "-",
                "verdict": p.verdict,
                "NVML GiB": _gib(est.peak_device_bytes if est else None),
                "allocated GiB": _gib(est.peak_allocated_bytes if est else None),
                "cell spec": p.spec.label() + (f" ({p.note})" if p.note else ""),
            }
        )
    return pd.DataFrame(rows)


def plan_summary(planned: Sequence[PlannedCell], placement: Placement, seconds: float) -> str:
    """`308 cells for GeForce RTX 4090 (24.0 GiB): 294 fits, 13 wont_fit, ...`."""
    counts = Counter(p.verdict for p in planned)
    order = [FITS, WONT_FIT] + sorted(set(counts) - {FITS, WONT_FIT})
    where = (
        f"emulated on {placement.card}"
        if placement.emulate
        else (
            f"on {placement.card}"
            if placement.detected is not None
            else "(no GPU here: planned for that card)"
        )
    )
    return (
        f"{len(planned)} cells for {placement.profile.title} "
        f"({placement.profile.memory_bytes / GIB:.1f} GiB) {where}: "
        + ", ".join(f"{counts[v]} {v}" for v in order if counts[v])
        + f"; estimated in {seconds:.0f} s (the training step's peak, every sequence at "
        "max_length; fits = NVML peak within the card's memory)"
    )


def estimate_json(planned: Sequence[PlannedCell]) -> str:
    """The plan as JSON: one object per cell with its spec, verdict and estimate."""
    out: list[dict[str, Any]] = []
    for p in planned:
        out.append(
            {
                "cell_id": p.spec.cell_id,
                "spec": json.loads(p.spec.to_json()),
                **p.record(),
            }
        )
    return json.dumps(out, indent=1)


def gpus_frame() -> pd.DataFrame:
    """`list gpus`: every profile with its figures and their source."""
    rows = []
    for name, g in GPUS.items():
        rows.append(
            {
                "name": name,
                "card": g.title,
                "memory GiB": f"{g.memory_bytes / GIB:.1f}",
                "bf16 TFLOP/s": f"{g.bf16_tflops:g}" if g.bf16 else "no bf16",
                "fp16": f"{g.fp16_tflops:g}",
                "tf32": f"{g.tf32_tflops:g}" if g.tf32_tflops else "—",
                "fp32": f"{g.fp32_tflops:g}",
                "GB/s": f"{g.bandwidth_gbs:g}",
                "TDP W": f"{g.tdp_w:g}",
                "aliases": ", ".join(g.aliases) or "-",
                "source": g.source,
            }
        )
    return pd.DataFrame(rows)


def cells_for_cards(
    suites: Sequence[Any],
    placement: Placement,
    expand_kwargs: dict[str, Any],
) -> list[CellSpec]:
    """Every cell of `suites` marked with the profile, the card and the emulation flag."""
    from bench.suites import expand

    cells: list[CellSpec] = []
    for suite in suites:
        cells += expand(
            suite,
            "cuda",
            gpu=placement.profile.name,
            card=placement.card,
            emulate=placement.emulate,
            **expand_kwargs,
        )
    return list(dict.fromkeys(cells))
