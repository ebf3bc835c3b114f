"""Pieces shared by the examples: the runner, and (later) backbones, heads, augmentations, evaluation."""
