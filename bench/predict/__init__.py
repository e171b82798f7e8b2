"""Predictions of a training step on a card checked against published measurements."""
