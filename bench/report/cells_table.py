"""The store's cells as one table: a row per cell with the columns every page reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.core.spec import CellSpec
from bench.core.status import Status
from bench.report.labels import method_label
from bench.stats.configurations import with_configurations

MIB = 1024 * 1024


def configurations_apart(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with `method` naming each configuration apart: the method's label, plus the
    fields (settings, lr) in which configurations of one label differ within a budget, so that
    a table's row never pools two configurations (five adapter placements, two rates)."""
    if frame.empty or "spec" not in frame:
        return frame
    out = with_configurations(frame)
    out["method"] = out["variant"]
    return out.drop(columns=["config", "budget", "where", "variant"])


def cells_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per stored cell with the columns the tables need."""
    rows = []
    for rec in records:
        spec: CellSpec = rec["spec"]
        res = rec["result"]
        row = {
            "cell_id": rec["id"],
            "model": spec.model,
            "task": spec.task,
            "method": method_label(spec),
            "method_name": spec.method,  # the registry's name, without the label's tags
            "seed": spec.seed,
            "device": spec.device,
            "status": rec["status"],
            "error": rec["error"],
            "lr": spec.lr,
            "settings": ", ".join(f"{k}={v}" for k, v in spec.settings),
            "spec": spec,
            "trial": spec.trial,
        }
        if rec["status"] == Status.OK:
            params, speed, memory = res["params"], res["speed"], res["memory"]
            metric = res["primary_metric"]
            row.update(
                metric_name=metric,
                metric=res["metrics"][metric],
                accuracy=res["metrics"].get("accuracy"),
                perplexity=res["metrics"].get("perplexity"),
                method_params=params["method_params"],
                head_params=params["head_params"],
                total_params=params["total_params"],
                trainable_params=params.get("trainable_params"),
                trainable_pct=params["trainable_pct"],
                step_time_s=speed["step_time_median_s"],
                # other load while it trained (speed.load; None in records from before it was kept)
                contended=(speed.get("load") or {}).get("contended"),
                samples_per_s=speed["samples_per_s"],
                tokens_per_s=speed["tokens_per_s"],
                peak_mem_mib=_peak_memory(memory) / MIB,
                train_mem_mib=_training_memory(memory) / MIB,
                allocated_mib=(
                    memory["torch_max_allocated_bytes"] / MIB
                    if memory.get("torch_max_allocated_bytes") is not None
                    else float("nan")
                ),
                energy_per_sample_j=res["energy"]["energy_per_sample_j"],
                energy_per_token_j=res["energy"].get("energy_per_token_j"),
                mfu=(res.get("throughput") or {}).get("mfu"),
                flops_per_token=(res.get("throughput") or {}).get("flops_per_token"),
                wall_s=res["wall_s"],
                majority=res["data"]["majority_baseline"],
                split_hash=res["data"]["split_hash"],
                data=res["data"],
                steady_steps=speed["steady_steps"],
                steps=speed["steps"],
                recall=res.get("per_class_recall"),
                lm_loss_increase=(res.get("forgetting") or {}).get("lm_loss_increase"),
                embedding_drift=(res.get("forgetting") or {}).get("embedding_drift"),
                inference=res.get("inference"),
                distillation=res.get("distillation"),
                preference=res.get("preference"),
                metrics=res["metrics"],
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _peak_memory(memory: dict[str, Any]) -> float:
    """GPU: NVML peak (falls back to the allocator's reserved peak); CPU: peak RSS of the cell."""
    if memory.get("nvml_peak_bytes") is not None:
        return float(memory["nvml_peak_bytes"])
    if memory.get("torch_max_reserved_bytes") is not None:
        return float(memory["torch_max_reserved_bytes"])
    return float(memory["rss_peak_bytes"])


def _training_memory(memory: dict[str, Any]) -> float:
    """What training added: on GPU the peak as measured (NVML counts the process, or the
    device minus its baseline at cell start); on CPU the peak RSS minus the RSS at cell start
    (the Python runtime and libraries, about half of a small model's RSS, left out)."""
    gpu_figures = (memory.get("nvml_peak_bytes"), memory.get("torch_max_reserved_bytes"))
    on_cpu = all(value is None for value in gpu_figures)
    if on_cpu and memory.get("rss_delta_bytes") is not None:
        return float(memory["rss_delta_bytes"])
    return _peak_memory(memory)


def step_time_text(group: pd.DataFrame) -> str:
    """The median step time in ms, marked where another process took CPU time while any of
    the group's cells trained (their load is recorded; cells stored before that are not)."""
    text = f"{group['step_time_s'].median() * 1000:.0f}"
    contended = group["contended"] if "contended" in group else pd.Series(dtype=object)
    return text + (" (contended)" if contended.eq(True).any() else "")
