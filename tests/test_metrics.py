"""MetricsLogger (CSV, JSON summary, PNG curves) and the progress bar (tqdm and the fallback)."""

import csv
import io
import json
import math
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils.metrics import MetricsLogger
from minigrad.utils.progress import progress

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


# ----- MetricsLogger ---------------------------------------------------------------------------------
def test_log_writes_an_append_only_csv(tmp_path):
    log = MetricsLogger(tmp_path / "run", config={"lr": 0.1})
    log.log(0, loss=mg.tensor(2.5), lr=0.1)
    log.log(1, loss=np.float32(1.25), tokens=128)
    log.log(1, val_accuracy=mg.tensor([0.5]))
    rows = _rows(tmp_path / "run" / "metrics.csv")
    assert rows[0] == ["step", "time", "name", "value"]
    assert [(r[0], r[2], r[3]) for r in rows[1:]] == [
        ("0", "loss", "2.5"),
        ("0", "lr", "0.1"),
        ("1", "loss", "1.25"),
        ("1", "tokens", "128"),
        ("1", "val_accuracy", "0.5"),
    ]
    times = [float(r[1]) for r in rows[1:]]
    assert all(t >= 0 for t in times) and times == sorted(times)
    assert log.last("loss") == 1.25 and log.history["loss"] == [(0, 2.5), (1, 1.25)]


def test_summary_json_has_final_metrics_wall_time_and_config(tmp_path):
    with MetricsLogger(tmp_path, config={"lr": 0.1, "layers": [4, 8]}) as log:
        for step in range(5):
            log.log(step, loss=1.0 / (step + 1))
        log.log(4, accuracy=0.75)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["final"] == {"loss": 0.2, "accuracy": 0.75}
    assert summary["count"] == {"loss": 5, "accuracy": 1}
    assert summary["last_step"] == 4
    assert summary["config"] == {"lr": 0.1, "layers": [4, 8]}
    assert summary["wall_time"] >= 0 and "started" in summary


def test_save_json_converts_tensors_and_numpy(tmp_path):
    log = MetricsLogger(tmp_path)
    path = log.save_json({"acc": mg.tensor(0.5), "confusion": np.eye(2, dtype=np.int64), "n": np.int64(3),
                          "w": mg.tensor([1.0, 2.0]), "nan": float("nan")}, "results.json")
    text = open(path).read()
    data = json.loads(text)
    assert data["acc"] == 0.5 and data["confusion"] == [[1, 0], [0, 1]] and data["n"] == 3
    assert data["w"] == [1.0, 2.0] and math.isnan(data["nan"])
    with pytest.raises(TypeError, match="cannot write a value of type object"):
        log.save_json({"x": object()})


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    log = MetricsLogger(tmp_path)
    for step in range(40):
        log.log(step, loss=math.exp(-step / 10), lr=0.1)
    log.log(39, val_loss=0.3)
    path = log.plot(["loss", "val_loss"], filename="curves.png", title="run")
    data = open(path, "rb").read()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert log.plot("lr").endswith("metrics.png")
    assert (tmp_path / "metrics.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(KeyError, match="no metric named 'acc'"):
        log.plot(["acc"])


def test_plot_does_not_change_the_pyplot_backend(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    log = MetricsLogger(tmp_path)
    log.log(0, loss=1.0)
    log.plot()
    assert matplotlib.get_backend() == before


def test_resume_reads_back_and_appends(tmp_path):
    log = MetricsLogger(tmp_path)
    log.log(0, loss=3.0)
    log.log(1, loss=2.0)
    again = MetricsLogger(tmp_path, resume=True)
    assert again.history == {"loss": [(0, 3.0), (1, 2.0)]}
    again.log(2, loss=1.0)
    assert [r[3] for r in _rows(tmp_path / "metrics.csv")[1:]] == ["3.0", "2.0", "1.0"]
    fresh = MetricsLogger(tmp_path)  # without resume a new run starts a new file
    assert fresh.history == {} and _rows(tmp_path / "metrics.csv") == [["step", "time", "name", "value"]]


def test_bad_values_are_rejected_before_anything_is_written(tmp_path):
    log = MetricsLogger(tmp_path)
    with pytest.raises(ValueError, match="loss must be a single number, got 3 elements"):
        log.log(0, accuracy=0.5, loss=mg.ones(3))
    with pytest.raises(TypeError, match="name must be a number"):
        log.log(0, name="abc")
    with pytest.raises(TypeError, match="step must be an int"):
        log.log(0.5, loss=1.0)
    with pytest.raises(ValueError, match="at least one metric"):
        log.log(0)
    assert _rows(tmp_path / "metrics.csv") == [["step", "time", "name", "value"]]
    assert log.history == {}
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a metrics CSV"):
        MetricsLogger(tmp_path, resume=True, csv_name="other.csv")
    with pytest.raises(TypeError, match="config must be a dict"):
        MetricsLogger(tmp_path, config=[1])


# ----- progress -------------------------------------------------------------------------------------------
def test_progress_uses_tqdm_when_installed():
    tqdm = pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = progress(range(5), desc="train", disable=False, file=out)
    assert isinstance(bar, tqdm.tqdm)
    items = []
    for i in bar:
        items.append(i)
        bar.set_postfix(loss=0.5)
    assert items == list(range(5))
    text = out.getvalue()
    assert "train" in text and "5/5" in text and "loss=0.5" in text


@pytest.fixture
def without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError


def test_fallback_prints_counts_and_postfix(without_tqdm):
    out = io.StringIO()
    bar = progress(range(4), desc="epoch 1", disable=False, file=out, mininterval=0, leave=True)
    assert type(bar).__name__ == "_Progress" and len(bar) == 4
    seen = []
    for i in bar:
        seen.append(i)
        bar.set_postfix(loss=0.123456, step=i)
    assert seen == [0, 1, 2, 3]
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("epoch 1: 100% 4/4 [")
    assert "loss=0.1235, step=3" in lines[-1]
    assert any("1/4" in line for line in lines)


def test_fallback_manual_updates_and_unknown_total(without_tqdm):
    out = io.StringIO()
    with progress(total=10, disable=False, file=out, mininterval=0) as bar:
        bar.update(3)
        bar.set_description("load")
    assert "load:  30% 3/10" in out.getvalue()
    out = io.StringIO()
    for _ in progress((i for i in range(3)), disable=False, file=out, mininterval=0, unit="batch"):
        pass
    assert "3batch [" in out.getvalue() and "batch/s" in out.getvalue()


def test_fallback_disable(without_tqdm):
    out = io.StringIO()
    assert list(progress(range(3), disable=True, file=out)) == [0, 1, 2]
    assert list(progress(range(3), file=out)) == [0, 1, 2]  # None: off, since StringIO is not a terminal
    assert out.getvalue() == ""
    with pytest.raises(TypeError, match="nothing to iterate"):
        iter(progress(total=3, disable=True)).__next__()
