"""Timing passes: configurations re-timed side by side, and the speed ratios they give."""
