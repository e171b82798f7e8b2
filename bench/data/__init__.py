"""Data: packaged assets, splits and encodings, token caches, general text."""
