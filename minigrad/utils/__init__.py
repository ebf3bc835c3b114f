"""Utilities: ``checkpoint`` (activation recomputation) and ``data`` (datasets and loaders)."""
