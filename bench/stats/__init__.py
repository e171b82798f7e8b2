"""Paired statistics: seed-level and method-level tests."""
