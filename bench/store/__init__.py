"""The SQLite store of cells and predictions."""
