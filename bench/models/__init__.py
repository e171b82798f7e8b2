"""Model sources, loading on a device in a dtype, quantisation, precision recipes, peft glue."""
