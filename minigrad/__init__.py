"""minigrad: a deep learning engine written from scratch on NumPy (CPU) and CuPy (GPU).

It speaks PyTorch's API: ``import minigrad as mg`` and use ``mg.tensor``, ``mg.nn``, ``mg.optim``
as you would ``torch``. See README.md for the architecture: Tensor -> Op -> engine -> optimizer.
"""

from . import _allocator

_allocator.configure()  # keep freed array memory for the next step (see _allocator.py)

from . import (  # noqa: E402
    _tensor_methods,  # noqa: F401  (attaches x.sum(), x + y, ... to Tensor)
    autograd,
    cuda,
    datasets,
    interop,
    nn,
    optim,
    profiler,
    testing,
    transforms,
    utils,
)
from ._parallel import get_num_threads, set_num_threads
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.engine import grad
from .backend import Generator, device, initial_seed, manual_seed
from .dtypes import (
    bfloat16,
    dtype,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from .dtypes import (
    bool_ as bool,
)
from .interop import from_dlpack
from .ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .ops.convert import clone, detach, to, type_as
from .ops.creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .ops.indexing import (
    argsort,
    argwhere,
    diag,
    diagonal,
    gather,
    index_add,
    index_put,
    index_select,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    sort,
    take_along_dim,
    topk,
    trace,
    tril,
    triu,
)
from .ops.linalg import bmm, dot, einsum, ger, inner, matmul, mm, outer
from .ops.math import (
    abs,
    absolute,
    add,
    addcdiv,
    addcmul,
    allclose,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    ceil,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    cos,
    div,
    divide,
    eq,
    equal,
    erf,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    fmod,
    frac,
    ge,
    greater,
    greater_equal,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    multiply,
    nan_to_num,
    ne,
    neg,
    negative,
    not_equal,
    pow,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
    where,
)
from .ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    count_nonzero,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from .ops.rnn import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from .ops.shape import (
    atleast_1d,
    atleast_2d,
    broadcast_tensors,
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    contiguous,
    expand,
    expand_as,
    flatten,
    flip,
    fliplr,
    flipud,
    hstack,
    moveaxis,
    movedim,
    narrow,
    permute,
    repeat,
    repeat_interleave,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    tile,
    transpose,
    unbind,
    unflatten,
    unsqueeze,
    view,
    vstack,
)
from .ops.softmax import log_softmax, softmax
from .ops.spatial import pixel_shuffle, pixel_unshuffle
from .serialization import load, save
from .tensor import Tensor
from .utils import data as _data  # noqa: F401  (loads mg.utils.data)

float = float32
double = float64
half = float16
long = int64
int = int32
short = int16

__version__ = "0.1.0"
