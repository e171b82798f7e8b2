"""What to run: suites, GPU profiles, memory estimates, plans, validation before training."""
