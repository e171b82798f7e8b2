"""Fine-tuning methods: one file per family, each registers itself with `register_method`."""

# The order methods register in, and so their order in the suites that run every method.
__all__ = [
    "full",
    "freeze",
    "bitfit",
    "ln_tuning",
    "sparse",
    "lora",
    "qlora",
    "ia3",
    "lycoris",
    "random_projection",
    "fourierft",
    "orthogonal",
    "adapters",
    "prompt",
]
