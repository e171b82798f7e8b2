"""Meters: parameters, memory, speed and energy of one cell."""
