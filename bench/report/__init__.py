"""Pages from the store: suite reports, claims, plots, tuned pages, export, the gate."""
