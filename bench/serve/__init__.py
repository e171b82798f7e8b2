"""After training: what a method costs to ship and to serve (saved state, merging, latency)."""
