"""minigrad's examples: one folder per paper, each run with ``python -m examples <name>``."""
