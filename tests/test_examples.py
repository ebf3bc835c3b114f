"""Smoke tests: every example runs end to end on its tiny preset and writes its metrics."""

import json
import math

import pytest

pytest.importorskip("sklearn", reason="the examples need the 'examples' extra (scikit-learn)")

from examples.common.runner import available_examples, run_example  # noqa: E402

EXAMPLES = sorted(available_examples())


def test_examples_are_registered():
    assert "mlp_digits" in EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_smoke_preset(name, tmp_path):
    metrics = run_example(name, preset="smoke", out=str(tmp_path), seed=0)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["example"] == name and saved["preset"] == "smoke"
    assert saved["wall_time_s"] >= 0
    numbers = {k: v for k, v in metrics.items() if isinstance(v, float)}
    assert numbers and all(math.isfinite(v) for v in numbers.values())


def test_mlp_digits_learns(tmp_path):
    metrics = run_example("mlp_digits", preset="smoke", out=str(tmp_path), seed=0,
                          overrides={"epochs": "3"})
    assert metrics["test_accuracy"] > 0.5  # chance is 0.1
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
