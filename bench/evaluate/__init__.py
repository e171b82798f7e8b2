"""Scoring a trained model: task metrics, predictions, generation."""
