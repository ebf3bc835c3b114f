"""Dropout (statistics, reproducibility, eval mode, checkpoint replay), Embedding (padding_idx,
repeated indices, max_norm, scale_grad_by_freq, the module vs torch), one_hot, and the distance
modules. The generic op checks are the rows of tests/op_specs/misc.py.
"""

import math

import numpy as np
import pytest
from conftest import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.testing import assert_close
from minigrad.utils.checkpoint import checkpoint

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (pip install -e .[ref])")


# ----------------------------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_mean_and_zeroes_a_fraction_p(p):
    x = mg.full((400, 500), 2.0)
    y = F.dropout(x, p).numpy()
    n = y.size
    zeroed = (y == 0).mean()
    # binomial standard error; 5 sigma keeps this from flaking while catching a wrong p or scale
    assert abs(zeroed - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert np.allclose(y[y != 0], 2.0 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 2.0) < 5 * 2.0 * math.sqrt(p / (1 - p) / n)
    assert y.dtype == np.float32


def test_dropout_is_reproducible_with_manual_seed_and_differs_otherwise():
    x = mg.randn(64, 64)
    mg.manual_seed(3)
    a = F.dropout(x, 0.5)
    b = F.dropout(x, 0.5)
    mg.manual_seed(3)
    c = F.dropout(x, 0.5)
    assert mg.equal(a, c)
    assert not mg.equal(a, b)


def test_dropout_gradient_is_the_same_mask():
    x = mg.randn(50, 40, requires_grad=True)
    y = F.dropout(x, 0.3)
    g = mg.randn(50, 40)
    y.backward(g)
    mask = y.detach().numpy() / x.detach().numpy()
    assert_close(x.grad, g.numpy() * mask, rtol=1e-5, atol=1e-6)


def test_dropout_module_is_identity_in_eval_and_edge_probabilities():
    layer = nn.Dropout(0.5)
    x = mg.randn(10, 10)
    assert repr(layer) == "Dropout(p=0.5, inplace=False)"
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert not mg.equal(layer(x), x)
    assert F.dropout(x, 0.0) is x
    zeros = F.dropout(x, 1.0)
    assert np.array_equal(zeros.numpy(), np.zeros((10, 10), np.float32))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout2d(bad)
    with pytest.raises(TypeError, match="floating-point"):
        F.dropout(mg.tensor([1, 2, 3]), 0.5)


def test_dropout_inplace_updates_the_tensor_and_its_gradient():
    x = mg.randn(30, 30, requires_grad=True)
    h = x * 1.0
    out = F.dropout(h, 0.4, inplace=True)
    assert out is h
    out.sum().backward()
    kept = out.detach().numpy() != 0
    assert_close(x.grad, kept / 0.6, rtol=1e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match="leaf"):
        F.dropout(x, 0.4, inplace=True)


@pytest.mark.parametrize("fn,shape,lead", [(F.dropout1d, (4, 6, 5), 2), (F.dropout1d, (6, 5), 1),
                                           (F.dropout2d, (4, 6, 3, 3), 2), (F.dropout3d, (4, 6, 2, 2, 2), 2),
                                           (F.dropout3d, (6, 2, 2, 2), 1)])
def test_channel_dropout_zeroes_whole_channels(fn, shape, lead):
    y = fn(mg.ones(*shape), 0.5).numpy()
    per_channel = y.reshape(y.shape[:lead] + (-1,))
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # each channel all 0 or all 2
    assert set(np.unique(y)) <= {0.0, 2.0}


def test_channel_dropout_errors_and_3d_warning():
    with pytest.raises(RuntimeError, match=r"dropout1d: expected 2-D or 3-D input.*\(2, 3, 4, 5\)"):
        F.dropout1d(mg.ones(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="3D input"):
        y = F.dropout2d(mg.ones(2, 8, 16), 0.5).numpy()
    assert np.all(y.min(-1) == y.max(-1))  # (N, C, L): channel-wise, as torch


def test_alpha_dropout_keeps_zero_mean_unit_variance():
    x = mg.randn(500, 400)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False, as torch
    assert repr(nn.AlphaDropout(0.2)) == "AlphaDropout(p=0.2, inplace=False)"


def test_checkpoint_replays_the_same_dropout_mask():
    w = mg.randn(20, 20, requires_grad=True)
    x = mg.randn(8, 20, requires_grad=True)

    def block(a):
        return F.dropout(a @ w, 0.5).tanh()

    mg.manual_seed(11)
    block(x).sum().backward()
    plain = (x.grad.numpy().copy(), w.grad.numpy().copy())
    x.grad = w.grad = None
    mg.manual_seed(11)
    checkpoint(block, x).sum().backward()
    assert_close(x.grad, plain[0], rtol=1e-6, atol=1e-6)
    assert_close(w.grad, plain[1], rtol=1e-6, atol=1e-6)


def test_dropout_keeps_float16():
    y = F.dropout(mg.ones(100, 100).half(), 0.25)
    assert y.dtype == mg.float16
    assert set(np.unique(y.numpy()).tolist()) <= {0.0, np.float16(1 / 0.75)}


# ----------------------------------------------------------------------------------------------
# embedding
# ----------------------------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                    {"padding_idx": 0, "scale_grad_by_freq": True}])
def test_embedding_gradients_with_repeats_padding_and_frequency_match_torch(kwargs):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((9, 4))
    index = np.array([[2, 2, 0, 8], [1, 2, 8, 8], [0, 5, 2, 3]])  # repeats, padding row used
    cot = rng.standard_normal(index.shape + (4,))
    w = mg.tensor(weight, requires_grad=True)
    out = F.embedding(mg.tensor(index), w, **kwargs)
    out.backward(mg.tensor(cot))
    w_t = torch.tensor(weight, requires_grad=True)
    out_t = torch.nn.functional.embedding(torch.tensor(index), w_t, **kwargs)
    out_t.backward(torch.tensor(cot))
    assert_close(out, out_t, rtol=0, atol=0)
    assert_close(w.grad, w_t.grad, rtol=1e-12, atol=1e-12)
    if "padding_idx" in kwargs:
        assert not np.any(w.grad.numpy()[kwargs["padding_idx"]])


def test_embedding_repeated_indices_accumulate_in_a_large_table():
    rng = np.random.default_rng(1)
    index = rng.integers(0, 50, (64, 16))  # many repeats of few rows of a 5000-row table
    w = mg.tensor(rng.standard_normal((5000, 8)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((64, 16, 8)).astype(np.float32)
    F.embedding(mg.tensor(index), w).backward(mg.tensor(g))
    expected = np.zeros((5000, 8))
    np.add.at(expected, index.reshape(-1), g.reshape(-1, 8).astype(np.float64))
    assert_close(w.grad, expected, rtol=1e-5, atol=1e-4)


def test_embedding_double_backward_refused_with_scale_grad_by_freq():
    w = mg.randn(5, 3, requires_grad=True)
    (g,) = mg.grad([(F.embedding(mg.tensor([1, 1, 2]), w, scale_grad_by_freq=True) ** 2).sum()], [w],
                   create_graph=True)
    with pytest.raises(RuntimeError, match="double backward .*scale_grad_by_freq"):
        (g * g).sum().backward()


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0])
def test_embedding_max_norm_renormalises_rows_in_place_like_torch(norm_type):
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((7, 5)) * 3
    index = np.array([[0, 3, 3], [6, 0, 1]])
    w, w_t = mg.tensor(weight.copy()), torch.tensor(weight.copy())
    version = w._version
    out = F.embedding(mg.tensor(index), w, max_norm=1.5, norm_type=norm_type)
    out_t = torch.nn.functional.embedding(torch.tensor(index), w_t, max_norm=1.5, norm_type=norm_type)
    assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    assert_close(w, w_t, rtol=1e-12, atol=1e-12)  # referenced rows rescaled, the others untouched
    assert np.array_equal(w.numpy()[[2, 4, 5]], weight[[2, 4, 5]])
    assert w._version > version


def test_embedding_errors_are_raised_before_anything_changes():
    w = mg.randn(6, 3) * 10
    before = w.numpy().copy()
    with pytest.raises(IndexError, match=r"index 6 is out of range .*6 rows"):
        F.embedding(mg.tensor([0, 6]), w, max_norm=1.0)
    with pytest.raises(IndexError, match=r"index -1"):
        F.embedding(mg.tensor([-1, 2]), w)
    assert np.array_equal(w.numpy(), before)
    with pytest.raises(TypeError, match="integer"):
        F.embedding(mg.tensor([0.0, 1.0]), w)
    with pytest.raises(RuntimeError, match=r"2-D.*\(6,\)"):
        F.embedding(mg.tensor([0]), mg.randn(6))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)


@needs_torch
def test_embedding_module_matches_torch():
    theirs = torch.nn.Embedding(10, 4, padding_idx=3, max_norm=2.0).double()
    ours = nn.Embedding(10, 4, padding_idx=3, max_norm=2.0).to(mg.float64)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours.load_state_dict(theirs.state_dict())
    index = np.array([[1, 3, 9], [3, 3, 0]])
    cot = np.random.default_rng(3).standard_normal((2, 3, 4))
    out, out_t = ours(mg.tensor(index)), theirs(torch.tensor(index))
    out.backward(mg.tensor(cot))
    out_t.backward(torch.tensor(cot))
    assert_close(out, out_t, rtol=1e-12, atol=1e-12)
    assert_close(ours.weight.grad, theirs.weight.grad, rtol=1e-12, atol=1e-12)
    assert_close(ours.weight, theirs.weight.detach(), rtol=1e-12, atol=1e-12)


def test_embedding_module_init_and_from_pretrained():
    layer = nn.Embedding(2000, 16, padding_idx=-1)
    w = layer.weight.detach().numpy()
    assert layer.padding_idx == 1999 and not np.any(w[1999])
    assert abs(w[:-1].mean()) < 0.02 and abs(w[:-1].std() - 1.0) < 0.02  # N(0, 1), as torch
    table = mg.randn(5, 3)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight._data is table._data
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert_close(frozen(mg.tensor([4, 0])), table.numpy()[[4, 0]], rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------
# one_hot and the distance modules
# ----------------------------------------------------------------------------------------------
def test_one_hot_values_dtype_and_errors():
    out = F.one_hot(mg.tensor([[0, 2], [1, 2]]))
    assert out.dtype == mg.int64 and out.shape == (2, 2, 3)
    assert np.array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[[0, 2], [1, 2]]])
    assert F.one_hot(mg.tensor([1]), 4).shape == (1, 4)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(mg.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(mg.tensor([0, -1]))
    with pytest.raises(RuntimeError, match="empty"):
        F.one_hot(mg.zeros(0, dtype=mg.int64))
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(mg.tensor([0.0]))


@needs_torch
def test_distance_modules_match_torch():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((5, 6)), rng.standard_normal((1, 6))
    for ours, theirs in [(nn.CosineSimilarity(dim=1), torch.nn.CosineSimilarity(dim=1)),
                         (nn.PairwiseDistance(p=3.0, keepdim=True), torch.nn.PairwiseDistance(p=3.0, keepdim=True))]:
        x1, x2 = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
        t1, t2 = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        out, out_t = ours(x1, x2), theirs(t1, t2)
        cot = rng.standard_normal(out.shape)
        out.backward(mg.tensor(cot))
        out_t.backward(torch.tensor(cot))
        assert_close(out, out_t, rtol=1e-12, atol=1e-12)
        assert_close(x1.grad, t1.grad, rtol=1e-10, atol=1e-12)
        assert_close(x2.grad, t2.grad, rtol=1e-10, atol=1e-12)


def test_normalize_and_cosine_similarity_handle_zero_vectors():
    x = mg.zeros(2, 3, requires_grad=True)
    y = F.normalize(x, dim=1)
    y.sum().backward()
    assert np.array_equal(y.detach().numpy(), np.zeros((2, 3), np.float32))
    assert np.isfinite(x.grad.numpy()).all()
    c = F.cosine_similarity(mg.zeros(4), mg.ones(4), dim=0)
    assert c.item() == 0.0
