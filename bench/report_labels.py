"""How a cell's method is named in reports: its name and what changes what it measures."""

from __future__ import annotations

from bench.spec import CellSpec


def method_label(spec: CellSpec) -> str:
    """The method's name, marked when a common setting (EWC) changes what it trains and when
    the recipe is not the default (`lora [bf16, grad-ckpt]`), so that variants stay apart."""
    lam = dict(spec.settings).get("ewc_lambda")
    name = f"{spec.method} + EWC λ={lam:g}" if lam else spec.method
    recipe = [spec.precision] if spec.precision != "fp32" else []
    recipe += ["grad-ckpt"] if spec.grad_checkpointing else []
    recipe += [spec.optimizer] if spec.optimizer != "adamw" else []
    recipe += ["compile"] if spec.compile else []
    recipe += [f"accumulate {spec.grad_accumulation}"] if spec.grad_accumulation > 1 else []
    recipe += [f"early stop {spec.early_stopping}"] if spec.early_stopping else []
    recipe += [f"{spec.shots}-shot"] if spec.shots else []
    recipe += [f"unfreeze every {spec.unfreeze_every}"] if spec.unfreeze_every else []
    recipe += [f"self-training >= {spec.self_training:g}"] if spec.self_training else []
    return f"{name} [{', '.join(recipe)}]" if recipe else name
