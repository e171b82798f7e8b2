"""Fine-tuning methods: one file per family, each registers itself with `register_method`."""
