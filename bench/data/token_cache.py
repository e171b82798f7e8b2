"""Tokenized split parts cached on disk, keyed by the tokenizer's fingerprint and the split hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from typing import Any

from bench.core.spec import canonical_json
from bench.data.assets import cache_dir
from bench.data.splits import Encoded

FORMAT_VERSION = 1  # bump when encoding changes (prompt template, truncation rule)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of everything in the tokenizer that decides the ids it returns."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    parts = {
        "class": type(tokenizer).__name__,
        "backend": backend.to_str() if backend is not None else repr(tokenizer.get_vocab()),
        "chat_template": getattr(tokenizer, "chat_template", None),
        "special": {k: str(v) for k, v in tokenizer.special_tokens_map.items()},
        "padding_side": getattr(tokenizer, "padding_side", None),
        "truncation_side": getattr(tokenizer, "truncation_side", None),
    }
    return hashlib.sha256(canonical_json(parts).encode()).hexdigest()[:16]


def cached_encoding(key: dict[str, Any], build: Callable[[], Encoded]) -> Encoded:
    """Load the encoding stored under `key`, or build it and store it (atomic rename)."""
    digest = hashlib.sha256(canonical_json({**key, "v": FORMAT_VERSION}).encode()).hexdigest()
    folder = cache_dir() / "tokens"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:24]}.json"
    if path.exists():
        return Encoded(**json.loads(path.read_text()))
    encoded = build()
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(dataclasses.asdict(encoded)))
    partial.replace(path)
    return encoded
