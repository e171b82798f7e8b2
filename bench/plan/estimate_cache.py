"""Estimates kept on disk, keyed by what they depend on: the cell's estimate fields, the code
that makes them (the estimator and the method's own source) and the library versions."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import CODE_VERSION
from bench.core.spec import canonical_json
from bench.data.assets import cache_dir

LIBRARIES = ("torch", "transformers", "peft", "bitsandbytes")
ESTIMATOR_MODULES = (
    "bench.plan.estimate",
    "bench.plan.live_bytes",
    "bench.plan.op_costs",
    "bench.models.precision",
    "bench.models.quantize",
    "bench.plan.meta_model",
    "bench.models.sources",
    "bench.models.chunked_loss",
    "bench.cell.optimizer_in_backward",
)


@cache
def _source_digest(paths: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


@cache
def _versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def cache_key(key: tuple, method_apply: Any) -> str:
    """The file name of an estimate: a hash of its inputs, the code and the libraries."""
    import importlib

    sources = [inspect.getsourcefile(importlib.import_module(m)) for m in ESTIMATOR_MODULES]
    sources.append(inspect.getsourcefile(inspect.unwrap(method_apply)))
    payload = {
        "key": list(key),
        "code": CODE_VERSION,
        "sources": _source_digest(tuple(str(s) for s in sources)),
        "libraries": _versions(),
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:24]


def load(name: str) -> dict[str, Any] | None:
    """A stored estimate's fields, if any."""
    path = cache_dir() / "estimates" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def save(name: str, fields: dict[str, Any]) -> None:
    """Store an estimate's fields (atomic rename)."""
    folder = cache_dir() / "estimates"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(fields, sort_keys=True))
    partial.replace(path)
