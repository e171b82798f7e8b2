"""Silence library noise that is not ours: a newcomer reads it as an error of ftbench."""

from __future__ import annotations

import logging
import os
import sys
import warnings


def quiet_libraries() -> None:
    """Call before the libraries are imported (the bitsandbytes line is logged at import)."""
    # bitsandbytes' CPU backend probes for the hub-hosted `kernels` package when imported and
    # logs a warning offline; its built-in CPU kernels work, so the line is noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Deprecations raised inside transformers and peft (their calls into each other).
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)(\.|$)")
    # peft's notes on LN tuning's norm layers and on BOFT's CUDA extension (absent on a CPU, and
    # unused when BOFT is only estimated).
    for message in (
        "Unsupported layer type",
        "Failed to load the CUDA extension",
        "Setting boft_n_butterfly_factor to 1",
        "Paged optimizers are not supported on CPU",
    ):
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers loads
    transformers = sys.modules.get("transformers")
    if transformers is not None:  # already loaded: tell it directly
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
