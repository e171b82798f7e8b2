"""Where a GPU profile's plan runs: the card found (or none), emulation, and the profile's
cells marked with both."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.core.errors import NoGpu
from bench.core.spec import CellSpec
from bench.hardware.gpus import DetectedGpu, GpuProfile, detect_gpus, get_gpu
from bench.plan.selection import Selection

GIB = 2**30


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


def cells_for_cards(
    suites: Sequence[Any], placement: Placement, selection: Selection
) -> list[CellSpec]:
    """Every cell of `suites` as selected, marked with the profile, the card and emulation."""
    cells: list[CellSpec] = []
    for suite in suites:
        cells += selection.expand(
            suite,
            "cuda",
            gpu=placement.profile.name,
            card=placement.card,
            emulate=placement.emulate,
        )
    return list(dict.fromkeys(cells))
