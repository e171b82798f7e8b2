"""Training regimes a cell composes: EWC, forgetting, unfreezing, self-training."""
