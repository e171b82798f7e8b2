"""Running cells: the runner, worker processes and executors (local slots, Ray)."""
