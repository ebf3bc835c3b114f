"""mg.profiler: exact counts and bytes for a known graph, self times, tables, nesting and state restore."""

import pytest

import minigrad as mg
from minigrad import profiler
from minigrad.autograd.grad_mode import _State


def _row(prof, name, phase):
    rows = [r for r in prof.key_averages() if (r.name, r.phase) == (name, phase)]
    assert len(rows) <= 1
    return rows[0] if rows else None


def _three_matmuls():
    """loss = sum(((x @ W1) @ W2) @ W3) with x constant: 3 MatMul nodes, 5 weight/activation gradients."""
    x = mg.randn(8, 16)
    shapes = [(16, 32), (32, 24), (24, 4)]
    return x, [mg.randn(*shape, requires_grad=True) for shape in shapes]


def test_counts_and_bytes_are_exact_for_a_known_graph():
    x, (w1, w2, w3) = _three_matmuls()
    with profiler.profile() as prof:
        h1 = x @ w1
        h2 = h1 @ w2
        y = h2 @ w3
        loss = y.sum()
        loss.backward()

    forward = _row(prof, "MatMul", "forward")
    assert forward.count == 3
    assert forward.bytes == h1.nbytes + h2.nbytes + y.nbytes
    nodes = _row(prof, "MatMulBackward", "backward")
    assert nodes.count == 3
    # gradients returned by the three nodes: W1 (x needs none), then (h1, W2) and (h2, W3)
    assert nodes.bytes == w1.nbytes + h1.nbytes + w2.nbytes + h2.nbytes + w3.nbytes
    assert _row(prof, "Sum", "forward").count == 1
    assert _row(prof, "SumBackward", "backward").count == 1
    # the ops that backward runs (matmuls for the gradients) are counted in the backward phase only
    assert {r.name for r in prof.key_averages() if r.phase == "forward"} == {"MatMul", "Sum"}
    assert _row(prof, "MatMul", "backward").count >= 3


def test_times_are_consistent():
    x, (w1, w2, w3) = _three_matmuls()
    with profiler.profile() as prof:
        (((x @ w1) @ w2) @ w3).sum().backward()
    rows = prof.key_averages()
    assert rows
    for row in rows:
        assert row.total_time >= 0 and row.self_time >= 0
        assert row.self_time <= row.total_time + 1e-12
        assert row.mean_time == pytest.approx(row.total_time / row.count)
    assert [r.total_time for r in rows] == sorted((r.total_time for r in rows), reverse=True)
    # a node's total includes the ops its backward ran
    nodes = _row(prof, "MatMulBackward", "backward")
    assert nodes.total_time >= nodes.self_time
    summary = prof.summary()
    assert summary["events"] == sum(r.count for r in rows)
    assert summary["self_time"] == pytest.approx(sum(r.self_time for r in rows))
    assert summary["self_time"] <= summary["wall_time"]
    assert {"name", "phase", "count", "total_time", "self_time", "mean_time", "bytes"} <= set(summary["rows"][0])


def test_record_function_times_a_region_and_its_self_time_excludes_ops():
    x = mg.randn(64, 64)
    with profiler.profile() as prof:
        with profiler.record_function("my_block"):
            for _ in range(4):
                x = mg.tanh(x @ x) * 0.5
    region = _row(prof, "my_block", "region")
    assert region.count == 1
    inside = sum(r.total_time for r in prof.key_averages() if r.phase == "forward")
    assert region.total_time >= inside
    assert region.self_time == pytest.approx(region.total_time - inside, abs=1e-9)
    assert _row(prof, "MatMul", "forward").count == 4
    assert _row(prof, "Tanh", "forward").count == 4


def test_record_function_as_decorator_and_without_a_profile():
    @profiler.record_function("step")
    def step(t):
        return t + 1

    step(mg.ones(2))  # no profile active: nothing to record, no error
    with profiler.profile() as prof:
        step(mg.ones(2))
        step(mg.ones(2))
    assert _row(prof, "step", "region").count == 2
    assert _row(prof, "Add", "forward").count == 2
    with pytest.raises(TypeError, match="name must be a str"):
        profiler.record_function(3)


def test_record_function_decorating_a_recursive_function():
    @profiler.record_function("fact")
    def fact(n):
        return mg.tensor(1.0) if n == 0 else fact(n - 1) * n

    with profiler.profile() as prof:
        assert fact(3).item() == 6.0
    region = _row(prof, "fact", "region")
    assert region.count == 4
    # the calls nest, so inclusive totals add up to more than the time spent, while self times do not
    spent = prof.summary()["self_time"]
    assert spent <= prof.wall_time
    assert region.total_time > spent
    assert region.self_time <= region.total_time


def test_table_is_readable_sorted_and_limited():
    x, (w1, w2, w3) = _three_matmuls()
    with profiler.profile() as prof:
        (((x @ w1) @ w2) @ w3).sum().backward()
    table = prof.table()
    for word in ("Name", "Phase", "Calls", "Total", "Self", "Mean", "Bytes", "MatMul", "MatMulBackward", "Sum"):
        assert word in table
    by_count = prof.table(sort_by="count", row_limit=1)
    body = [line for line in by_count.splitlines()[3:] if not line.startswith("-")][:-1]
    assert len(body) == 1
    top = max(prof.key_averages(), key=lambda r: r.count)
    assert body[0].split()[0] == top.name and str(top.count) in body[0]
    assert len(prof.table(row_limit=-1).splitlines()) == len(prof.key_averages()) + 5
    assert "MatMul" in prof.table(sort_by="self_cpu_time_total")  # torch's column names work too
    with pytest.raises(ValueError, match="unknown sort_by 'speed'"):
        prof.table(sort_by="speed")


def test_state_is_restored_and_nothing_is_recorded_outside():
    assert _State.profiler is None and not _State.slow_path
    prof = profiler.profile()
    with prof:
        assert _State.profiler is prof and _State.slow_path
        mg.ones(2) + 1
    assert _State.profiler is None and not _State.slow_path
    events = prof.summary()["events"]
    mg.ones(2) + 1
    assert prof.summary()["events"] == events

    with prof:  # re-entering adds to what was recorded
        mg.ones(2) + 1
    assert _row(prof, "Add", "forward").count == 2
    prof.reset()
    assert prof.key_averages() == [] and prof.wall_time == 0.0

    with pytest.raises(ZeroDivisionError):
        with profiler.profile():
            mg.ones(2) + 1
            raise ZeroDivisionError("inside the block")
    assert _State.profiler is None and not _State.slow_path


def test_nested_profiles_restore_the_outer_one():
    with profiler.profile() as outer:
        mg.ones(2) * 2
        with profiler.profile() as inner:
            assert _State.profiler is inner
            mg.ones(2) + 1
        assert _State.profiler is outer
        mg.ones(2) - 1
    assert _State.profiler is None
    assert _row(inner, "Add", "forward").count == 1 and _row(inner, "Mul", "forward") is None
    for name in ("Mul", "Add", "Sub"):
        assert _row(outer, name, "forward").count == 1  # the outer profile also saw the inner block


def test_profile_with_anomaly_detection_keeps_the_slow_path():
    with mg.autograd.detect_anomaly():
        with profiler.profile() as prof:
            mg.ones(2) * 3
        assert _State.slow_path  # anomaly detection still needs it
    assert not _State.slow_path
    assert _row(prof, "Mul", "forward").count == 1


def test_misuse_is_reported():
    prof = profiler.profile()
    with pytest.raises(RuntimeError, match="not active"):
        prof.stop()
    with prof:
        with pytest.raises(RuntimeError, match="already active"):
            prof.start()
    first, second = profiler.profile().start(), profiler.profile().start()
    with pytest.raises(RuntimeError, match="reverse order"):
        first.stop()
    second.stop()
    first.stop()
    assert _State.profiler is None and not _State.slow_path


def test_disabled_profile_records_nothing():
    with profiler.profile(enabled=False) as prof:
        mg.ones(2) + 1
        assert _State.profiler is None
    assert prof.key_averages() == []
