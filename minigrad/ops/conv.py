"""Convolution: conv1d/2d, conv_transpose1d/2d, unfold (im2col) and fold (col2im).

A convolution is one GEMM over sliding windows. The windows of the zero-padded input are a
strided *view* (``as_strided``: no copy); copying that view once into a contiguous column buffer
("im2col", shape ``(groups, C/groups * kh * kw, N * out_h * out_w)``) turns the whole layer into
one matrix product with the weight ``(groups, O/groups, C/groups * kh * kw)``:

    y[n, o, p] = sum_{c,k} W[o, c, k] * x_pad[n, c, p * stride + k * dilation]

Three ops, all bilinear, and each one's derivative is written with the others:

    Conv(x, W)              y  = conv(x, W)
    ConvTranspose(g, W)     gx = conv^T(g, W), the adjoint of conv in x: a GEMM then "col2im"
                            (a scatter-add of the columns back onto the input, one strided add per
                            kernel position). It is conv's input gradient *and* conv_transpose.
    ConvWeightGrad(x, g)    gW = d<g, conv(x, W)>/dW, one GEMM of the gradient with the columns

so ``create_graph=True`` differentiates convolutions to any order. Unfold and Fold are im2col and
col2im with torch's ``(N, C * kh * kw, L)`` layout, and each other's adjoint.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .. import dtypes
from ..autograd.op import Op
from ..backend import get_array_module
from ..tensor import Tensor
from ._common import check_same_device


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------
def ntuple(value, n: int, name: str, op_name: str) -> tuple:
    """An int or a sequence of 1 or ``n`` ints as an ``n``-tuple of ints (torch's ``_pair``)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                for v in value):
        if len(value) == 1:
            return (int(value[0]),) * n
        if len(value) == n:
            return tuple(int(v) for v in value)
        raise RuntimeError(f"{op_name}: expected {name} to be a single integer or a list of {n} integers, "
                           f"got {list(value)}")
    raise TypeError(f"{op_name}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def work_dtype(dtype):
    """The dtype GEMMs and accumulations run in: float16/bfloat16 are widened to float32."""
    return np.dtype(np.float32) if np.dtype(dtype).itemsize < 4 else np.dtype(dtype)


def _show(sizes) -> str:
    return " x ".join(str(s) for s in sizes)


class ConvGeometry:
    """Where the windows of an N-d convolution sit (tuples have one entry per spatial dim).

    ``in_size`` is the spatial size of the convolution's input (before padding), ``out_size`` that
    of its output. Output position ``o`` and kernel offset ``k`` read input position
    ``o * stride + k * dilation - pad_lo``; positions outside ``[0, in_size)`` are the zero padding.
    """

    __slots__ = ("kernel", "stride", "pad_lo", "pad_hi", "dilation", "groups", "in_size", "out_size")

    def __init__(self, kernel, stride, pad_lo, pad_hi, dilation, groups, in_size, out_size):
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pad_lo, self.pad_hi, self.groups = tuple(pad_lo), tuple(pad_hi), groups
        self.in_size, self.out_size = tuple(in_size), tuple(out_size)

    @property
    def ndim(self) -> int:
        return len(self.kernel)


def window_pairs(kernel, stride, pad_lo, dilation, in_size, out_size) -> list:
    """For each kernel offset (in C order): (flat index, offset, output slices, input slices).

    Only in-bounds positions are kept, so nothing reads or writes the padding: ``out[o_slices]``
    and ``x[i_slices]`` have the same shape and pair output ``o`` with input
    ``o * stride + k * dilation - pad_lo``. Offsets that see no input at all are skipped.
    """
    pairs = []
    for flat, offset in enumerate(itertools.product(*(range(k) for k in kernel))):
        o_slices, i_slices = [], []
        for k, s, p, d, n_in, n_out in zip(offset, stride, pad_lo, dilation, in_size, out_size):
            shift = k * d - p
            lo = max(0, -(shift // s))  # first o with o * s + shift >= 0
            hi = min(n_out, (n_in - 1 - shift) // s + 1)  # one past the last o with o * s + shift < n_in
            if hi <= lo:
                break
            start = lo * s + shift
            o_slices.append(slice(lo, hi))
            i_slices.append(slice(start, start + (hi - lo - 1) * s + 1, s))
        else:
            pairs.append((flat, offset, tuple(o_slices), tuple(i_slices)))
    return pairs


# ----------------------------------------------------------------------------------------------
# Raw-array kernels
# ----------------------------------------------------------------------------------------------
def _windows(x, g: ConvGeometry):
    """The sliding windows of x as a strided view of shape (N, C, *kernel, *out_size): no copy."""
    xp = get_array_module(x)
    if any(g.pad_lo) or any(g.pad_hi):
        padded = xp.zeros(x.shape[:2] + tuple(n + lo + hi for n, lo, hi in zip(x.shape[2:], g.pad_lo, g.pad_hi)),
                          dtype=x.dtype)
        padded[(slice(None), slice(None)) + tuple(slice(lo, lo + n) for lo, n in zip(g.pad_lo, x.shape[2:]))] = x
        x = padded
    spatial = x.strides[2:]
    strides = (x.strides[:2] + tuple(s * dl for s, dl in zip(spatial, g.dilation))
               + tuple(s * st for s, st in zip(spatial, g.stride)))
    shape = x.shape[:2] + g.kernel + g.out_size
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _im2col_gemm(x, g: ConvGeometry, dtype):
    """Columns for the GEMM: (groups, C/groups * prod(kernel), N * prod(out_size)), contiguous.

    Laid out channel-major and batch-minor, so the copy runs along contiguous output rows and the
    whole batch is a single matrix product (not a loop of small ones).
    """
    xp = get_array_module(x)
    d = g.ndim
    n, c = x.shape[:2]
    view = _windows(x, g).transpose((1,) + tuple(range(2, 2 + d)) + (0,) + tuple(range(2 + d, 2 + 2 * d)))
    cols = xp.empty((c,) + g.kernel + (n,) + g.out_size, dtype=dtype)
    cols[...] = view
    return cols.reshape(g.groups, c // g.groups * math.prod(g.kernel), n * math.prod(g.out_size))


def _channels_first(y, groups: int, dtype):
    """(N, O, *S) as a contiguous (groups, O/groups, N * prod(S)) array, the GEMM layout."""
    xp = get_array_module(y)
    perm = (1, 0) + tuple(range(2, y.ndim))
    out = xp.empty(tuple(y.shape[i] for i in perm), dtype=dtype)
    out[...] = y.transpose(perm)
    return out.reshape(groups, y.shape[1] // groups, y.shape[0] * math.prod(y.shape[2:]))


def _grouped_matmul(a, b):
    """(G, m, k) @ (G, k, n): a single 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return get_array_module(a).matmul(a, b)


def _col2im(cols, g: ConvGeometry, dtype):
    """Adjoint of the window view: sum columns (N, C, *kernel, *out) back onto (N, C, *in_size).

    One strided add per kernel offset (kh * kw of them), each over the whole batch.
    """
    xp = get_array_module(cols)
    n, c = cols.shape[:2]
    acc = xp.zeros((n, c) + g.in_size, dtype=work_dtype(dtype))
    lead = (slice(None), slice(None))
    for _, offset, o_sl, i_sl in window_pairs(g.kernel, g.stride, g.pad_lo, g.dilation, g.in_size, g.out_size):
        acc[lead + i_sl] += cols[lead + offset + o_sl]
    return acc if acc.dtype == dtype else acc.astype(dtype)


def conv_forward(x, W, b, g: ConvGeometry, cols=None):
    """y = conv(x, W) + b as arrays; ``cols`` (from ``_im2col_gemm``) is reused when given."""
    xp = get_array_module(x)
    wd = work_dtype(x.dtype)
    if cols is None:
        cols = _im2col_gemm(x, g, wd)
    n, o = x.shape[0], W.shape[0]
    G, L = g.groups, math.prod(g.out_size)
    Wg = W.reshape(G, o // G, -1).astype(wd, copy=False)
    # Either GEMM order needs one transposed copy into NCHW. Measured with OpenBLAS: W @ cols wins
    # with many pixels per image (long contiguous rows to copy), cols^T W^T with few (late layers,
    # patch embeddings), where it is up to 2x faster.
    if L > o:
        y = _grouped_matmul(Wg, cols).reshape(G, o // G, n, L).transpose(2, 0, 1, 3)  # (N, G, O/G, L) view
    else:
        y = _grouped_matmul(cols.transpose(0, 2, 1), Wg.transpose(0, 2, 1))  # (G, N * L, O/G)
        y = y.reshape(G, n, L, o // G).transpose(1, 0, 3, 2)
    out = xp.empty((n, o) + g.out_size, dtype=x.dtype)
    dst = out.reshape(n, G, o // G, L)
    if b is None:
        dst[...] = y
    else:  # the bias rides along with the copy into NCHW order
        xp.add(y, b.reshape(G, o // G, 1).astype(wd, copy=False), out=dst, casting="unsafe")
    return out, cols


def _as_flipped_conv(g: ConvGeometry) -> ConvGeometry | None:
    """For a stride-1 convolution, the geometry of the conv that computes its input gradient:

        conv^T(gy, W) = conv(gy, W~), padded by dilation * (kernel - 1) - padding in front,

    W~ being W with the kernel flipped and the two channel axes swapped within each group, and padded
    behind up to in_size outputs. None where a padding would be negative (a convolution padded by
    more than its reach) or the stride is not 1.
    """
    if any(s != 1 for s in g.stride):
        return None
    reach = tuple(d * (k - 1) for d, k in zip(g.dilation, g.kernel))
    lo = tuple(r - p for r, p in zip(reach, g.pad_lo))
    # enough padding on the high side for in_size outputs (conv_transpose's output_padding makes it larger)
    hi = tuple(n_in + r - n_out - p for n_in, r, n_out, p in zip(g.in_size, reach, g.out_size, lo))
    if min(lo + hi) < 0:
        return None
    return ConvGeometry(g.kernel, g.stride, lo, hi, g.dilation, g.groups, g.out_size, g.in_size)


def _flipped_weight(W, groups: int):
    """W (O, C/G, *kernel) -> W~ (C, O/G, *kernel): the kernel reversed, channels swapped per group."""
    o, c_g = W.shape[:2]
    kernel = W.shape[2:]
    Wg = W.reshape((groups, o // groups, c_g) + kernel).swapaxes(1, 2)
    return Wg[(Ellipsis,) + (slice(None, None, -1),) * len(kernel)].reshape((groups * c_g, o // groups) + kernel)


def conv_input_grad(gy, W, g: ConvGeometry, channels: int, gyb=None):
    """conv^T(gy, W): the gradient of conv wrt its input, shape (N, channels, *in_size).

    Two ways, picked by which moves less memory. The adjoint as written: one GEMM W^T gy makes
    columns of C * prod(kernel) rows and col2im adds them back (prod(kernel) strided passes over
    the input gradient). Or, for a stride-1 convolution with no more output channels than input
    channels, the same result as a forward convolution of gy with the flipped kernel
    (``_as_flipped_conv``): its im2col is O * prod(kernel) rows and there is no col2im (on a
    (512, 8, 32, 32) ResNet layer, 80 -> 50 ms).

    ``gyb`` is gy already in the GEMM layout (``_channels_first``), when the caller has it.
    """
    wd = work_dtype(gy.dtype)
    n, o = gy.shape[:2]
    flipped = _as_flipped_conv(g) if o <= channels else None
    if flipped is not None:
        return conv_forward(gy, _flipped_weight(W, g.groups), None, flipped)[0]
    if gyb is None:
        gyb = _channels_first(gy, g.groups, wd)
    Wg = W.reshape(g.groups, o // g.groups, -1).astype(wd, copy=False)
    gcols = _grouped_matmul(Wg.transpose(0, 2, 1), gyb)  # (G, C/G * K, N * L)
    d = g.ndim
    view = gcols.reshape((channels,) + g.kernel + (n,) + g.out_size)
    view = view.transpose((1 + d, 0) + tuple(range(1, 1 + d)) + tuple(range(2 + d, 2 + 2 * d)))
    return _col2im(view, g, gy.dtype)


def conv_weight_grad(x, gy, g: ConvGeometry, weight_shape, cols=None, gyb=None):
    """d<gy, conv(x, W)>/dW, shape ``weight_shape`` (O, C/groups, *kernel): one GEMM per group."""
    wd = work_dtype(x.dtype)
    if cols is None:
        cols = _im2col_gemm(x, g, wd)
    if gyb is None:
        gyb = _channels_first(gy, g.groups, wd)
    gWt = _grouped_matmul(cols, gyb.transpose(0, 2, 1))  # (G, C/G * K, O/G): the cheaper GEMM order
    gW = gWt.transpose(0, 2, 1).reshape(weight_shape)
    return gW.astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Ops
# ----------------------------------------------------------------------------------------------
def _bias_grad(gy: Tensor) -> Tensor:
    return gy.sum((0,) + tuple(range(2, gy.ndim)))


class Conv(Op):
    """y = conv(x, W) (+ b).

    Speed: the im2col columns are kept for the weight gradient (one im2col per step, not two), and
    the backward puts gy into the GEMM layout once for both gradients. These are caches of values
    derived from the ops' own inputs; the graph still records x, W and gy, so higher orders hold.
    """

    def __init__(self, geometry: ConvGeometry):
        self.g = geometry

    def forward(self, x, W, b=None):
        self.save_inputs(0, 1)
        y, cols = conv_forward(x, W, b, self.g)
        if self.needs_input_grad[1]:
            self.cols = cols
        return y

    def backward(self, gy):
        x, W = self.saved_inputs
        need, g = self.needs_input_grad, self.g
        gyb = _channels_first(gy._data, g.groups, work_dtype(gy._data.dtype)) if need[0] and need[1] else None
        gx = ConvTranspose(g, gyb)(gy, W) if need[0] else None
        gW = ConvWeightGrad(g, self.__dict__.pop("cols", None), gyb)(x, gy) if need[1] else None
        if len(need) == 2:
            return gx, gW
        return gx, gW, _bias_grad(gy) if need[2] else None


class ConvTranspose(Op):
    """y = conv^T(x, W) (+ b): conv's input gradient, and the forward of conv_transpose.

    ``W`` has conv's layout (C_x, C_y/groups, *kernel), which is conv_transpose's weight layout.
    """

    def __init__(self, geometry: ConvGeometry, xb=None):
        self.g = geometry
        self.xb = xb  # x in the GEMM layout, if the caller already made it

    def forward(self, x, W, b=None):
        self.save_inputs(0, 1)
        xb, self.xb = self.xb, None
        y = conv_input_grad(x, W, self.g, W.shape[1] * self.g.groups, xb)
        if b is not None:
            y += b.reshape((-1,) + (1,) * self.g.ndim)
        return y

    def backward(self, gy):
        x, W = self.saved_inputs
        need = self.needs_input_grad
        gx = Conv(self.g)(gy, W) if need[0] else None
        # <gy, conv^T(x, W)> = <conv(gy, W), x>: W's gradient is conv's weight gradient with the roles swapped
        gW = ConvWeightGrad(self.g)(gy, x) if need[1] else None
        if len(need) == 2:
            return gx, gW
        return gx, gW, _bias_grad(gy) if need[2] else None


class ConvWeightGrad(Op):
    """gW = d<g, conv(x, W)>/dW, bilinear in (x, g); its derivatives are conv^T and conv."""

    def __init__(self, geometry: ConvGeometry, cols=None, gyb=None):
        self.g = geometry
        self.cols, self.gyb = cols, gyb  # im2col of x and gy in the GEMM layout, if already made

    def forward(self, x, gy):
        self.save_inputs(0, 1)
        cols, gyb, self.cols, self.gyb = self.cols, self.gyb, None, None
        g = self.g
        shape = (gy.shape[1], x.shape[1] // g.groups) + g.kernel
        return conv_weight_grad(x, gy, g, shape, cols, gyb)

    def backward(self, ggW):
        x, gy = self.saved_inputs
        gx = ConvTranspose(self.g)(gy, ggW) if self.needs_input_grad[0] else None
        g_gy = Conv(self.g)(x, ggW) if self.needs_input_grad[1] else None
        return gx, g_gy


class Unfold(Op):
    """im2col: (N, C, *S) -> (N, C * prod(kernel), L), torch's F.unfold layout."""

    def __init__(self, geometry: ConvGeometry):
        self.g = geometry

    def forward(self, x):
        xp = get_array_module(x)
        n, c = x.shape[:2]
        cols = xp.empty((n, c) + self.g.kernel + self.g.out_size, dtype=x.dtype)
        cols[...] = _windows(x, self.g)
        return cols.reshape(n, c * math.prod(self.g.kernel), math.prod(self.g.out_size))

    def backward(self, gy):
        return Fold(self.g)(gy)


class Fold(Op):
    """col2im: (N, C * prod(kernel), L) -> (N, C, *S), summing overlapping windows; adjoint of Unfold."""

    def __init__(self, geometry: ConvGeometry):
        self.g = geometry

    def forward(self, cols):
        g = self.g
        n = cols.shape[0]
        view = cols.reshape((n, cols.shape[1] // math.prod(g.kernel)) + g.kernel + g.out_size)
        return _col2im(view, g, cols.dtype)

    def backward(self, gx):
        return Unfold(self.g)(gx)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def _check_float_operands(op_name: str, input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{op_name}: {name} must be a Tensor, got {type(t).__name__}")
    check_same_device(op_name, *[t for t in (input, weight, bias) if t is not None])
    if not dtypes.is_floating(input._data.dtype):
        raise RuntimeError(f"{op_name}: expected a floating-point input, got {input.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op_name}: input dtype ({input.dtype}) and {name} dtype ({t.dtype}) "
                               f"should be the same")


def _batched(op_name: str, input: Tensor, d: int, what: str) -> tuple[Tensor, bool]:
    """Accept (N, C, *S) or unbatched (C, *S) input like torch; returns the batched tensor."""
    if input.ndim == d + 2:
        return input, False
    if input.ndim == d + 1:
        return input.unsqueeze(0), True
    raise RuntimeError(f"{op_name}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input {what}, "
                       f"but got input of shape {tuple(input.shape)}")


def _check_positive(op_name: str, values: tuple, what: str) -> None:
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op_name}: {what} must be greater than zero, got {values}")


def _conv(op_name: str, d: int, input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups) -> Tensor:
    _check_float_operands(op_name, input, weight, bias)
    layout = "(N, C, L)" if d == 1 else "(N, C, H, W)"
    x, unbatched = _batched(op_name, input, d, layout)
    if weight.ndim != d + 2:
        raise RuntimeError(f"{op_name}: expected a weight with {d + 2} dims (out_channels, in_channels/groups, "
                           f"*kernel), got shape {tuple(weight.shape)}")
    stride = ntuple(stride, d, "stride", op_name)
    dilation = ntuple(dilation, d, "dilation", op_name)
    _check_positive(op_name, stride, "stride")
    _check_positive(op_name, dilation, "dilation")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0:
        raise RuntimeError(f"{op_name}: groups must be a positive integer, got {groups!r}")
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pad_lo = pad_hi = (0,) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(f"{op_name}: padding='same' is not supported for strided convolutions "
                                   f"(stride {stride})")
            total = tuple(dl * (k - 1) for dl, k in zip(dilation, kernel))
            pad_lo = tuple(t // 2 for t in total)  # torch puts the odd extra row on the high side
            pad_hi = tuple(t - lo for t, lo in zip(total, pad_lo))
        else:
            raise ValueError(f"{op_name}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    else:
        pad_lo = pad_hi = ntuple(padding, d, "padding", op_name)
        if any(p < 0 for p in pad_lo):
            raise RuntimeError(f"{op_name}: negative padding is not supported, got {pad_lo}")
    out_channels, channels = weight.shape[0], x.shape[1]
    if out_channels % groups:
        raise RuntimeError(f"{op_name}: given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of shape {tuple(weight.shape)}")
    if channels != weight.shape[1] * groups:
        raise RuntimeError(
            f"{op_name}: given groups={groups}, weight of shape {tuple(weight.shape)}, expected input of shape "
            f"{tuple(input.shape)} to have {weight.shape[1] * groups} channels, but got {channels} channels instead"
        )
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"{op_name}: given weight of shape {tuple(weight.shape)}, expected bias to be 1-D with "
                           f"{out_channels} elements, but got bias of shape {tuple(bias.shape)}")
    in_size = tuple(x.shape[2:])
    padded = tuple(n + lo + hi for n, lo, hi in zip(in_size, pad_lo, pad_hi))
    extent = tuple(dl * (k - 1) + 1 for dl, k in zip(dilation, kernel))
    if any(e > p for e, p in zip(extent, padded)) or 0 in kernel:
        raise RuntimeError(f"{op_name}: calculated padded input size per channel: ({_show(padded)}). Kernel size "
                           f"(dilated): ({_show(extent)}). Kernel size can't be greater than actual input size "
                           f"(input shape {tuple(input.shape)}, weight shape {tuple(weight.shape)})")
    out_size = tuple((p - e) // s + 1 for p, e, s in zip(padded, extent, stride))
    g = ConvGeometry(kernel, stride, pad_lo, pad_hi, dilation, groups, in_size, out_size)
    out = Conv(g)(x, weight) if bias is None else Conv(g)(x, weight, bias)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as torch) of input (N, C_in, L) with weight (C_out, C_in/groups, k).

    ``padding`` is an int, a 1-tuple, ``'valid'`` (none) or ``'same'`` (output length = input length,
    stride 1 only). Output length: floor((L + 2 * padding - dilation * (k - 1) - 1) / stride) + 1.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution of input (N, C_in, H, W) with weight (C_out, C_in/groups, kh, kw), plus bias (C_out,).

    y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * x_pad[n, g(o) * C_in/groups + c,
    i * stride + u * dilation, j * stride + v * dilation]. ``groups == C_in`` is a depthwise
    convolution. ``padding``: int, pair, ``'valid'`` or ``'same'``. Computed as im2col + one GEMM.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op_name: str, d: int, input: Tensor, weight: Tensor, bias, stride, padding, output_padding,
                    groups, dilation) -> Tensor:
    _check_float_operands(op_name, input, weight, bias)
    layout = "(N, C, L)" if d == 1 else "(N, C, H, W)"
    x, unbatched = _batched(op_name, input, d, layout)
    if weight.ndim != d + 2:
        raise RuntimeError(f"{op_name}: expected a weight with {d + 2} dims (in_channels, out_channels/groups, "
                           f"*kernel), got shape {tuple(weight.shape)}")
    if isinstance(padding, str):
        raise ValueError(f"{op_name}: padding must be an int or a tuple of ints, got {padding!r}")
    stride = ntuple(stride, d, "stride", op_name)
    dilation = ntuple(dilation, d, "dilation", op_name)
    padding = ntuple(padding, d, "padding", op_name)
    output_padding = ntuple(output_padding, d, "output_padding", op_name)
    _check_positive(op_name, stride, "stride")
    _check_positive(op_name, dilation, "dilation")
    if any(p < 0 for p in padding) or any(p < 0 for p in output_padding):
        raise RuntimeError(f"{op_name}: negative padding is not supported, got padding {padding}, "
                           f"output_padding {output_padding}")
    if any(op >= s and op >= dl for op, s, dl in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"{op_name}: output padding must be smaller than either stride or dilation, but got "
                           f"output_padding {output_padding}, stride {stride}, dilation {dilation}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0:
        raise RuntimeError(f"{op_name}: groups must be a positive integer, got {groups!r}")
    channels = x.shape[1]
    if weight.shape[0] != channels:
        raise RuntimeError(f"{op_name}: given transposed=1, weight of shape {tuple(weight.shape)}, expected input of "
                           f"shape {tuple(input.shape)} to have {weight.shape[0]} channels, but got {channels} "
                           f"channels instead")
    if channels % groups:
        raise RuntimeError(f"{op_name}: given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of shape {tuple(weight.shape)}")
    out_channels = weight.shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"{op_name}: given weight of shape {tuple(weight.shape)}, expected bias to be 1-D with "
                           f"{out_channels} elements, but got bias of shape {tuple(bias.shape)}")
    kernel = tuple(weight.shape[2:])
    in_size = tuple(x.shape[2:])
    out_size = tuple((n - 1) * s - 2 * p + dl * (k - 1) + op + 1
                     for n, s, p, dl, k, op in zip(in_size, stride, padding, dilation, kernel, output_padding))
    if any(n <= 0 for n in out_size) or 0 in kernel:
        raise RuntimeError(f"{op_name}: given input size per channel ({_show(in_size)}), the calculated output size "
                           f"per channel ({_show(out_size)}) is too small (weight shape {tuple(weight.shape)})")
    # conv_transpose is the adjoint of the convolution that maps out_size back onto in_size
    g = ConvGeometry(kernel, stride, padding, padding, dilation, groups, out_size, in_size)
    out = ConvTranspose(g)(x, weight) if bias is None else ConvTranspose(g)(x, weight, bias)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 1-D convolution (the adjoint of conv1d in its input), weight (C_in, C_out/groups, k).

    Output length: (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Transposed 2-D convolution ("deconvolution"), weight (C_in, C_out/groups, kh, kw).

    It is exactly the gradient of conv2d with respect to its input (computed the same way: a GEMM,
    then col2im). Output size per dim: (n - 1) * stride - 2 * padding + dilation * (k - 1) +
    output_padding + 1; ``output_padding`` picks among the sizes that conv2d maps to the same n.
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _fold_args(op_name: str, kernel_size, dilation, padding, stride) -> tuple:
    kernel = ntuple(kernel_size, 2, "kernel_size", op_name)
    dilation = ntuple(dilation, 2, "dilation", op_name)
    padding = ntuple(padding, 2, "padding", op_name)
    stride = ntuple(stride, 2, "stride", op_name)
    _check_positive(op_name, kernel, "kernel_size")
    _check_positive(op_name, dilation, "dilation")
    _check_positive(op_name, stride, "stride")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op_name}: padding must be non-negative, got {padding}")
    return kernel, dilation, padding, stride


def _blocks(op_name: str, size: tuple, kernel, dilation, padding, stride) -> tuple:
    out = tuple((n + 2 * p - dl * (k - 1) - 1) // s + 1
                for n, k, dl, p, s in zip(size, kernel, dilation, padding, stride))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{op_name}: given spatial size ({_show(size)}), kernel_size {kernel}, dilation "
                           f"{dilation}, padding {padding}, stride {stride}, the calculated number of sliding "
                           f"blocks ({_show(out)}) is non-positive")
    return out


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding blocks (im2col): (N, C, H, W) -> (N, C * kh * kw, L), L = number of blocks.

    ``fold`` is its adjoint; ``unfold(x) `` followed by a matmul with a flattened weight is conv2d.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"unfold: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"unfold: only 3-D (unbatched) or 4-D (batched) input tensors are supported, got shape "
                           f"{tuple(input.shape)}")
    kernel, dilation, padding, stride = _fold_args("unfold", kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if input.ndim == 3 else input
    out_size = _blocks("unfold", tuple(x.shape[2:]), kernel, dilation, padding, stride)
    g = ConvGeometry(kernel, stride, padding, padding, dilation, 1, tuple(x.shape[2:]), out_size)
    out = Unfold(g)(x)
    return out.squeeze(0) if input.ndim == 3 else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding blocks into a tensor (col2im): (N, C * kh * kw, L) -> (N, C, *output_size).

    Overlapping values are summed. The adjoint of ``unfold``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"fold: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"fold: only 2-D (unbatched) or 3-D (batched) input tensors are supported, got shape "
                           f"{tuple(input.shape)}")
    size = ntuple(output_size, 2, "output_size", "fold")
    kernel, dilation, padding, stride = _fold_args("fold", kernel_size, dilation, padding, stride)
    x = input.unsqueeze(0) if input.ndim == 2 else input
    k = math.prod(kernel)
    if x.shape[1] % k:
        raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size {kernel}, but got input of shape {tuple(input.shape)}")
    out_size = _blocks("fold", size, kernel, dilation, padding, stride)
    if x.shape[2] != math.prod(out_size):
        raise RuntimeError(f"fold: given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {_show(out_size)} = {math.prod(out_size)}, but got "
                           f"input of shape {tuple(input.shape)}")
    g = ConvGeometry(kernel, stride, padding, padding, dilation, 1, size, out_size)
    out = Fold(g)(x)
    return out.squeeze(0) if input.ndim == 2 else out
