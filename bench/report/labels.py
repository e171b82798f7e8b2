"""How a cell's method is named in reports: its name and what changes what it measures."""

from __future__ import annotations

import re

from bench.core.spec import CellSpec

# The reference every page compares against: full fine-tuning, as the guides do.
BASELINE = "full"


def method_label(spec: CellSpec) -> str:
    """The method's name, marked when a common setting (EWC) changes what it trains and when
    the recipe is not the default (`lora [bf16, grad-ckpt]`), so that variants stay apart."""
    lam = dict(spec.settings).get("ewc_lambda")
    name = f"{spec.method} + EWC λ={lam:g}" if lam else spec.method
    recipe = spec.recipe_tags()
    return f"{name} [{', '.join(recipe)}]" if recipe else name


def fmt_memory(mib: float) -> str:
    """MiB below 1 GiB, GiB above."""
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:,.0f} MiB"


def heading_anchor(title: str) -> str:
    """GitHub's anchor for a markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")
