"""Hyperparameter search: the local grid and Ray Tune with ASHA."""
