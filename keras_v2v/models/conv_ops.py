"""3D convolutions computed as 2D ones where the backend's own Conv3D is slow (JAX on CPU).

XLA's CPU Conv3D is a generic loop: at the `3d-default` sizes a 7x7x7 stem
took 0.5 s forward and 3.5 s with its gradients, against 0.1 s and 0.25 s as
one 2D convolution. So on JAX a 'valid' kt x kh x kw convolution folds time
into the batch axis and becomes one 2D convolution over kh x kw:

* taps on the input side (the default): the kt time-shifted frames are
  stacked along channels, and the kernel reshaped to (kh, kw, kt*Cin, Cout);
* taps on the output side (few output channels, time stride 1: the head and
  the PatchGAN's logits): one 2D convolution with kt*Cout outputs over every
  frame, then tap t's outputs are summed shifted by t frames. Eigen's 2D
  convolution is slow with 3 output channels (1 s for the 7x7x7 head, 0.27 s
  this way).

Both give `keras.ops.conv`'s outputs to float32 rounding (tests/test_conv_ops.py)
and JAX differentiates them (slices, concatenation, reshapes, 2D convolutions).
TensorFlow and torch keep `keras.ops.conv`: their Conv3D kernels are fast.

Every backend: inside `precision("bfloat16")` (a training option,
`CycleGAN.compile(conv_precision=...)`) convolutions take bfloat16 copies of
their float32 input and kernel and return float32; everything else (padding,
norms, losses, the variables and the optimizer) stays float32. On a CPU with
AVX512-BF16 oneDNN's 3D convolutions with their gradients ran 1.4-1.7x faster
that way (TensorFlow); on a CPU without it bfloat16 is emulated and slower.

Models pick this up through `accelerate`, which points a `keras.layers.Conv2D`'s or
`Conv3D`'s `convolution_op` here; the layer's class, config and weights are unchanged,
so saved models and presets read and write exactly as before.
"""

import contextlib
import contextvars
import functools
import itertools
import types

import keras
from keras import ops

# Output-side folding pays off for heads and logits (1-4 channels); wider layers fold inputs.
_OUTPUT_FOLD_MAX_FILTERS = 4
# Up to this many stacked (kt, kw) taps * channels (stems: 7*7*3; 3x3x3 blocks up to 170 channels)
# a matrix product beats XLA's 2D convolution (56-channel blocks: 2.2x with gradients, 128: equal).
_INPUT_FOLD_MAX_CHANNELS = 1536
# Output columns per tile of `_width_tiled_conv`: heads (4 and 16 measured slower on 64- and 112-wide
# heads), 1-channel stems (half the wasted multiply-adds with 8 filters; phantom's translate 1.15x).
_TILE_COLUMNS = 8
_STEM_TILE_COLUMNS = 4
# Forward only, stride 1: up to this many spatial taps * filters the spatial taps go on the outputs
# (phantom-mr2ct-3d's 8- and 16-filter up-steps, then its 7x7x7 head: its translate 1.25x each).
_SPATIAL_OUT_MAX = 144


CONV_PRECISIONS = ("float32", "bfloat16")
_low_precision = contextvars.ContextVar("keras_v2v_conv_precision", default=None)
_forward_only = contextvars.ContextVar("keras_v2v_conv_forward_only", default=False)


@contextlib.contextmanager
def forward_only():
    """Convolutions traced inside may take forms that are faster forward but slow (or never
    measured) to differentiate: for inference (JAX `compiled_forward`)."""
    token = _forward_only.set(True)
    try:
        yield
    finally:
        _forward_only.reset(token)


@contextlib.contextmanager
def precision(name):
    """Convolutions called (or traced) inside compute in `name` ("bfloat16"); "float32" or None: as they are."""
    if name not in (None,) + CONV_PRECISIONS:
        raise ValueError(f"conv_precision must be one of {', '.join(CONV_PRECISIONS)}, got {name!r}.")
    token = _low_precision.set(None if name in (None, "float32") else name)
    try:
        yield
    finally:
        _low_precision.reset(token)


def bfloat16_is_native():
    """Whether this machine multiplies bfloat16 in hardware: a GPU, or a CPU flag for it; None when unknown."""
    if _backend_has_gpu():
        return True
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return None
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def _backend_has_gpu():
    # Asks the active backend only: importing another (TensorFlow under JAX) costs seconds.
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def _triple(strides):
    return (int(strides),) * 3 if isinstance(strides, int) else tuple(int(s) for s in strides)


def folds_on_this_backend():
    """Whether `conv3d` computes with folded 2D convolutions here (JAX) rather than `keras.ops.conv`."""
    return keras.backend.backend() == "jax"


def conv3d(x, kernel, strides=1):
    """'valid' convolution of channels-last clips `x` (N, D, H, W, C) with `kernel` (kt, kh, kw, C, F).

    The same as `keras.ops.conv(x, kernel, strides, padding="valid")`, faster on JAX.
    """
    strides = _triple(strides)
    if not folds_on_this_backend() or len(x.shape) != 5 or x.shape[-1] != kernel.shape[-2]:
        return ops.conv(x, kernel, strides, padding="valid")
    # Variables become arrays here (jax.custom_vjp takes arrays only).
    return _jax_conv3d(ops.convert_to_tensor(x), ops.convert_to_tensor(kernel), strides)


def conv(x, kernel, strides=1):
    """`keras.ops.conv(x, kernel, strides, padding="valid")`, through `conv3d` for clips, in `precision`."""
    low = _low_precision.get()
    if low is not None and keras.backend.standardize_dtype(x.dtype) == "float32":
        x, kernel = ops.cast(x, low), ops.cast(kernel, low)
        if keras.backend.backend() == "tensorflow" and len(x.shape) == 5:
            return ops.cast(tf_conv3d_frame_filter_grad(x, kernel, strides), "float32")
        return ops.cast(_conv(x, kernel, strides), "float32")
    return _conv(x, kernel, strides)


def tf_conv3d_frame_filter_grad(x, kernel, strides=1):
    """TensorFlow's 'valid' Conv3D whose kernel gradient is summed from 2D kernel gradients, one per time tap.

    oneDNN's bfloat16 Conv3D filter gradient ran no faster than float32 here (3.0-11 ms for a
    56-channel 3x3x3 layer of the 3D recipe) where its 2D one over the frames of each tap
    took about half; the forward and input gradient stay Conv3D's. Time stride 1 only.
    """
    import tensorflow as tf

    strides = _triple(strides)
    taps = kernel.shape[0]
    if taps == 1 or strides[0] != 1:
        return tf.nn.conv3d(x, kernel, (1,) + strides + (1,), "VALID")

    @tf.custom_gradient
    def convolve(x, kernel):
        def grad(upstream):
            shape, out_shape = tf.shape(x), tf.shape(upstream)
            grad_x = tf.raw_ops.Conv3DBackpropInputV2(
                input_sizes=shape, filter=kernel, out_backprop=upstream, strides=(1,) + strides + (1,),
                padding="VALID")
            frames = out_shape[1]
            # Frames of all clips in the batch: (N * D', H', W', F); tap t sees input frames t .. t + D' - 1.
            flat_grad = tf.reshape(upstream, tf.concat([[-1], out_shape[2:]], 0))
            grad_kernel = tf.stack([
                tf.raw_ops.Conv2DBackpropFilter(
                    input=tf.reshape(x[:, tap:tap + frames], tf.concat([[-1], shape[2:]], 0)),
                    filter_sizes=kernel.shape[1:], out_backprop=flat_grad,
                    strides=(1,) + strides[1:] + (1,), padding="VALID")
                for tap in range(taps)])
            return grad_x, grad_kernel

        return tf.nn.conv3d(x, kernel, (1,) + strides + (1,), "VALID"), grad

    return convolve(x, kernel)


def _conv(x, kernel, strides):
    if len(x.shape) == 5:
        return conv3d(x, kernel, strides)
    return ops.conv(x, kernel, strides, padding="valid")


def _conv2d(x, kernel, strides):
    from jax import lax

    return lax.conv_general_dilated(x, kernel, strides, "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _jax_conv3d(x, kernel, strides):
    import jax.numpy as jnp
    from jax import lax

    _, depth, height, width, channels = x.shape
    kt, kh, kw, _, filters = kernel.shape
    st = strides[0]
    frames = (depth - kt) // st + 1
    if _forward_only.get():
        y = _inference_conv3d(x, kernel, strides)
        if y is not None:
            return y
    if strides == (1, 1, 1) and filters <= _OUTPUT_FOLD_MAX_FILTERS:
        return _gemm_conv(x, kernel, (2,))  # head, logits: (kt, kh) taps on the outputs
    if strides == (1, 1, 1) and kt * kw * channels <= _INPUT_FOLD_MAX_CHANNELS:
        return _gemm_conv(x, kernel, (0, 2))  # (kt, kw) taps on the inputs, kh on the outputs
    # Frame t*st + i for tap i, stacked along channels tap-major, as the reshaped kernel reads them.
    taps = [lax.slice_in_dim(x, i, i + st * (frames - 1) + 1, st, axis=1) for i in range(kt)]
    stacked = taps[0] if kt == 1 else jnp.concatenate(taps, axis=-1)
    k2 = jnp.transpose(kernel, (1, 2, 0, 3, 4)).reshape(kh, kw, kt * channels, filters)
    y = _conv2d(stacked.reshape(-1, height, width, kt * channels), k2, strides[1:])
    return y.reshape((-1, frames) + y.shape[1:])


def _inference_conv3d(x, kernel, strides):
    """A form measured faster forward than the training forms on XLA's CPU, or None for those.

    Chosen by the whole translate call, not the layer alone (alone, the page faults of fresh
    buffers and the missing neighbours' fusions reorder the forms); gradients never measured."""
    _, depth, height, width, channels = x.shape
    kt, kh, kw, _, filters = kernel.shape
    if strides == (1, 1, 1) and channels == 1:
        return _width_tiled_conv(x, kernel, _STEM_TILE_COLUMNS)  # 1-channel 7x7x7 stems: 2.7x
    if strides == (1, 1, 1) and kt == 1 and filters <= _OUTPUT_FOLD_MAX_FILTERS:
        return _width_tiled_conv(x, kernel)  # the inflated presets' 1x7x7 heads: 2.5-2.8x
    if kt == 1:  # other 1xkxk layers as 2D convolutions of the frames: 3x
        frames_x = x[:, ::strides[0]].reshape(-1, height, width, channels)
        return _conv2d(frames_x, kernel[0], strides[1:]).reshape(
            (-1, (depth - 1) // strides[0] + 1) + _conv2d_shape(height, width, kernel, strides))
    if strides[0] != 1:
        return None
    if strides != (1, 1, 1):
        return _time_taps_out_conv(x, kernel, strides)  # stride-(1, 2, 2) layers: 2-2.4x
    if kh * kw * filters <= _SPATIAL_OUT_MAX:
        # Narrow layers (7x7x7 heads, 3x3x3 to 8-16 filters): the kt frames stacked (whole frames
        # copied), the spatial taps on the outputs.
        return _gemm_fwd(x, kernel, (0,))[0]
    return None


def _conv2d_shape(height, width, kernel, strides):
    return ((height - kernel.shape[1]) // strides[1] + 1, (width - kernel.shape[2]) // strides[2] + 1,
            kernel.shape[4])


def _width_tiled_conv(x, kernel, tile=_TILE_COLUMNS):
    """Forward only, stride 1, few filters or few input channels (heads, 1-channel stems): the
    output columns in tiles of `tile`; each tile's kt frames x (tile + kw - 1) input columns stacked
    on the channels and multiplied by the kernel as a banded (kt * columns * C, kh * tile * F)
    matrix; the kh row taps summed shifted. A 1x7x7 head with 3 outputs: 2.5x faster than XLA's 2D
    convolution (2x the multiply-adds, but one well-shaped matrix product instead of a
    packing-bound convolution)."""
    import jax.numpy as jnp
    import numpy as np

    batch, depth, height, width, channels = x.shape
    kt, kh, kw, _, filters = kernel.shape
    frames, out_h, out_w = depth - kt + 1, height - kh + 1, width - kw + 1
    tiles, span = -(-out_w // tile), tile + kw - 1
    views = -(-span // tile)  # column blocks of `tile` that cover one tile's input columns
    x = jnp.pad(x, ((0, 0),) * 3 + ((0, max(0, (tiles + views - 1) * tile - width)), (0, 0)))
    blocks = [x[:, t:t + frames, :, v * tile:(v + tiles) * tile].reshape(batch, frames, height, tiles, tile, channels)
              for t in range(kt) for v in range(views)]
    stacked = jnp.concatenate(blocks, axis=4).reshape(batch, frames, height, tiles, kt, views * tile, channels)
    stacked = stacked[..., :span, :].reshape(batch, frames, height, tiles, kt * span * channels)
    # band[p, o, j] = 1 where input column p of a tile is kernel column j of its output column o.
    band = np.zeros((span, tile, kw), np.float32)
    for o, j in itertools.product(range(tile), range(kw)):
        band[o + j, o, j] = 1
    matrix = jnp.einsum("poj,tijcf->tpciof", band.astype(kernel.dtype), kernel).reshape(kt * span * channels, -1)
    z = (stacked @ matrix).reshape(stacked.shape[:4] + (kh, tile, filters))
    y = sum(z[:, :, i:i + out_h, :, i] for i in range(kh)).reshape(batch, frames, out_h, tiles * tile, filters)
    return y[:, :, :, :out_w]


def _time_taps_out_conv(x, kernel, strides):
    """Forward only, time stride 1: the (kh, kw) taps at the spatial stride stacked on the channels,
    the time taps as outputs of one matrix product over every frame, summed shifted in time.
    A stride-(1, 2, 2) layer of the inflated presets: 2.5x faster than stacking all 27 taps (XLA
    does not fuse a 27-part concatenation) or XLA's 2D convolution on the stacked frames."""
    import jax.numpy as jnp
    from jax import lax

    batch, depth, height, width, channels = x.shape
    kt, kh, kw, _, filters = kernel.shape
    out_h, out_w, _ = _conv2d_shape(height, width, kernel, strides)
    parts = [lax.slice(x, (0, 0, i, j, 0), (batch, depth, i + strides[1] * (out_h - 1) + 1,
                                             j + strides[2] * (out_w - 1) + 1, channels), (1, 1) + strides[1:] + (1,))
             for i in range(kh) for j in range(kw)]
    stacked = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)
    matrix = jnp.transpose(kernel, (1, 2, 3, 0, 4)).reshape(kh * kw * channels, kt * filters)
    z = (stacked @ matrix).reshape(stacked.shape[:4] + (kt, filters))
    frames = depth - kt + 1
    return sum(z[:, tap:tap + frames, :, :, tap] for tap in range(kt))


def _taps(kernel, axes):
    return list(itertools.product(*[range(kernel.shape[a]) for a in axes]))


def _shifted(x, axes, offsets, sizes):
    """x cropped to `sizes` along spatial `axes` (0-2) from `offsets`."""
    index = [slice(None)] * 5
    for axis, offset, size in zip(axes, offsets, sizes):
        index[axis + 1] = slice(offset, offset + size)
    return x[tuple(index)]


def _gemm_parts(x, kernel, inputs):
    """The taps along spatial axes `inputs` stacked along channels, the kernel as (their taps * C, other taps * F)."""
    import jax.numpy as jnp

    outputs = tuple(a for a in range(3) if a not in inputs)
    sizes = [x.shape[a + 1] - kernel.shape[a] + 1 for a in inputs]
    parts = [_shifted(x, inputs, tap, sizes) for tap in _taps(kernel, inputs)]
    stacked = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)
    matrix = jnp.transpose(kernel, inputs + (3,) + outputs + (4,))
    return stacked, matrix.reshape(len(parts) * kernel.shape[3], -1), outputs


def _gemm_fwd(x, kernel, inputs):
    stacked, matrix, outputs = _gemm_parts(x, kernel, inputs)
    z = (stacked @ matrix).reshape(stacked.shape[:4] + tuple(kernel.shape[a] for a in outputs) + (kernel.shape[4],))
    sizes = [x.shape[a + 1] - kernel.shape[a] + 1 for a in outputs]
    y = None
    for tap in _taps(kernel, outputs):
        part = _shifted(z, outputs, tap, sizes)[(Ellipsis,) + tap + (slice(None),)]
        y = part if y is None else y + part
    return y, (x, kernel)


def _gemm_bwd(inputs, residuals, grad):
    import jax.numpy as jnp

    x, kernel = residuals
    stacked, matrix, outputs = _gemm_parts(x, kernel, inputs)
    # Output tap o fed output position p from z at p + o: pad back, stack taps as the matrix orders them.
    padded = []
    for tap in _taps(kernel, outputs):
        width = [(0, 0)] * 5
        for axis, offset in zip(outputs, tap):
            width[axis + 1] = (offset, kernel.shape[axis] - 1 - offset)
        padded.append(jnp.pad(grad, width))
    dz = padded[0] if len(padded) == 1 else jnp.stack(padded, axis=-2)
    dz = dz.reshape(stacked.shape[:4] + (-1,))
    d_matrix = stacked.reshape(-1, stacked.shape[-1]).T @ dz.reshape(-1, dz.shape[-1])
    d_stacked = dz @ matrix.T
    channels = kernel.shape[3]
    dx = None
    for k, tap in enumerate(_taps(kernel, inputs)):
        width = [(0, 0)] * 5
        for axis, offset in zip(inputs, tap):
            width[axis + 1] = (offset, kernel.shape[axis] - 1 - offset)
        part = jnp.pad(d_stacked[..., k * channels:(k + 1) * channels], width)
        dx = part if dx is None else dx + part
    order = inputs + (3,) + outputs + (4,)
    d_kernel = d_matrix.reshape(tuple(kernel.shape[a] for a in order))
    return dx, jnp.transpose(d_kernel, [order.index(a) for a in range(5)])


def _gemm_conv(x, kernel, inputs):
    """Stride-1 convolution as one matrix product: taps along spatial axes `inputs` stacked on the
    input channels, the others' taps on the outputs (computed everywhere, then summed shifted).

    Its gradients are matrix products too (a custom VJP): XLA's own weight gradient of the 2D
    convolution with 21 outputs that the head otherwise becomes took 0.4-0.9 s.
    """
    import jax

    if inputs not in _gemm_vjp:
        conv = jax.custom_vjp(lambda x, kernel: _gemm_fwd(x, kernel, inputs)[0])
        conv.defvjp(lambda x, kernel: _gemm_fwd(x, kernel, inputs), functools.partial(_gemm_bwd, inputs))
        _gemm_vjp[inputs] = conv
    return _gemm_vjp[inputs](x, kernel)


_gemm_vjp = {}


def _convolution_op(self, inputs, kernel):
    """`Conv2D/Conv3D.convolution_op` for 'valid', undilated, ungrouped, channels-last layers (all of ours)."""
    if (self.padding == "valid" and self.data_format == "channels_last" and self.groups == 1
            and all(d == 1 for d in self.dilation_rate)):
        return conv(inputs, kernel, self.strides)
    return type(self).convolution_op(self, inputs, kernel)


def accelerate(layer):
    """Points each `keras.layers.Conv2D`/`Conv3D` in `layer` (a model or a layer) at `conv`.

    Per instance, not by subclassing: the class name in saved configs stays
    `keras.layers.Conv3D`, so models saved before and after read both ways.
    Outside `precision`, on TensorFlow and torch, `conv` is `keras.ops.conv` as Keras calls it.
    """
    if layer is None:
        return layer
    layers = layer._flatten_layers(include_self=True) if hasattr(layer, "_flatten_layers") else [layer]
    for item in layers:
        if type(item) in (keras.layers.Conv2D, keras.layers.Conv3D):
            item.convolution_op = types.MethodType(_convolution_op, item)
    return layer
