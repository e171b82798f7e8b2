"""Tasks: one file per task family, each registers itself with `register_task`."""
