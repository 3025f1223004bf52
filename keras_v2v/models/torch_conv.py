"""A channels-last convolution for Keras' torch backend without layout copies.

`keras.ops.conv` on the torch backend copies a channels-last input twice per
call (``permute(...).contiguous()`` to channels-first, then
``contiguous(memory_format=channels_last)`` back to the layout it came in) and
the kernel once: with the kernel copies of torch's im2col path, 9.5% of the 3D
CycleGAN train step's op time on CPU (`benchmarks/results/torch_gap.md`). Here
the input and kernel are only *viewed* channels-first (``movedim``/``permute``):
torch's convolution takes strided tensors, runs oneDNN in the channels-last
layout the view already has, and makes its own contiguous copy only where its
im2col path needs one. The output is viewed back channels-last. Same maths as
`keras.ops.conv` (`tests/test_torch_fast_path.py`).

Not hooked into the conv dispatch: routed through it, the 3D train step got
slower (0.97x native against 1.01x), because im2col convolutions then return
channels-first tensors and the ops after them pay for the layout. Only for the
torch backend; `conv` falls back to `keras.ops.conv` for anything it does not
cover ("same" padding, channels-first data).
"""

import torch.nn.functional as F
from keras import ops

_CONVS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _tuple(value, rank):
    return (int(value),) * rank if isinstance(value, int) else tuple(int(v) for v in value)


def conv(inputs, kernel, strides=1, padding="valid", dilation_rate=1, data_format=None):
    """`keras.ops.conv` for channels-last torch tensors, as views: (N, *spatial, C) x (*k, C/groups, F)."""
    rank = inputs.ndim - 2
    if padding != "valid" or data_format not in (None, "channels_last") or rank not in _CONVS:
        return ops.conv(inputs, kernel, strides=strides, padding=padding, dilation_rate=dilation_rate,
                        data_format=data_format)
    inputs, kernel = ops.convert_to_tensor(inputs), ops.convert_to_tensor(kernel)
    groups = inputs.shape[-1] // kernel.shape[-2]
    x = inputs.movedim(-1, 1)
    w = kernel.permute(rank + 1, rank, *range(rank))
    y = _CONVS[rank](x, w, stride=_tuple(strides, rank), dilation=_tuple(dilation_rate, rank), groups=groups)
    return y.movedim(1, -1)
