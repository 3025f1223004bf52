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

Models pick this up through `accelerate`, which points a `keras.layers.Conv3D`'s
`convolution_op` here; the layer's class, config and weights are unchanged,
so saved models and presets read and write exactly as before.
"""

import types

import keras
from keras import ops

# Output-side folding pays off for heads and logits (1-4 channels); wider layers fold inputs.
_OUTPUT_FOLD_MAX_FILTERS = 4


def folds_on_this_backend():
    """Whether `conv3d` computes with folded 2D convolutions here (JAX) rather than `keras.ops.conv`."""
    return keras.backend.backend() == "jax"


def conv3d(x, kernel, strides=1):
    """'valid' convolution of channels-last clips `x` (N, D, H, W, C) with `kernel` (kt, kh, kw, C, F).

    The same as `keras.ops.conv(x, kernel, strides, padding="valid")`, faster on JAX.
    """
    strides = (int(strides),) * 3 if isinstance(strides, int) else tuple(int(s) for s in strides)
    if not folds_on_this_backend() or len(x.shape) != 5 or x.shape[-1] != kernel.shape[-2]:
        return ops.conv(x, kernel, strides, padding="valid")
    # Variables become arrays here (jax.custom_vjp takes arrays only).
    return _jax_conv3d(ops.convert_to_tensor(x), ops.convert_to_tensor(kernel), strides)


def conv(x, kernel, strides=1):
    """`keras.ops.conv(x, kernel, strides, padding="valid")`, through `conv3d` for clips."""
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
    if kt > 1 and strides == (1, 1, 1) and filters <= _OUTPUT_FOLD_MAX_FILTERS:
        return _output_folded(x, kernel)
    # Frame t*st + i for tap i, stacked along channels tap-major, as the reshaped kernel reads them.
    taps = [lax.slice_in_dim(x, i, i + st * (frames - 1) + 1, st, axis=1) for i in range(kt)]
    stacked = taps[0] if kt == 1 else jnp.concatenate(taps, axis=-1)
    k2 = jnp.transpose(kernel, (1, 2, 0, 3, 4)).reshape(kh, kw, kt * channels, filters)
    y = _conv2d(stacked.reshape(-1, height, width, kt * channels), k2, strides[1:])
    return y.reshape((-1, frames) + y.shape[1:])


def _output_fold_parts(x, kernel):
    """Width taps stacked along channels, (kt, kh) taps along outputs: the forward's two operands."""
    import jax.numpy as jnp

    kt, kh, kw, channels, filters = kernel.shape
    out_w = x.shape[3] - kw + 1
    stacked = jnp.concatenate([x[:, :, :, j:j + out_w] for j in range(kw)], axis=-1) if kw > 1 else x
    matrix = jnp.transpose(kernel, (2, 3, 0, 1, 4)).reshape(kw * channels, kt * kh * filters)
    return stacked, matrix


def _output_folded_fwd(x, kernel):
    kt, kh, _, _, filters = kernel.shape
    stacked, matrix = _output_fold_parts(x, kernel)
    z = (stacked @ matrix).reshape(stacked.shape[:4] + (kt, kh, filters))
    frames, rows = x.shape[1] - kt + 1, x.shape[2] - kh + 1
    y = None
    for t in range(kt):
        for h in range(kh):
            part = z[:, t:t + frames, h:h + rows, :, t, h]
            y = part if y is None else y + part
    return y, (x, kernel)


def _output_folded_bwd(residuals, grad):
    import jax.numpy as jnp

    x, kernel = residuals
    kt, kh, kw, channels, filters = kernel.shape
    stacked, matrix = _output_fold_parts(x, kernel)
    # Tap (t, h)'s outputs fed output frame i, row r from z's frame i + t, row r + h.
    padded = [jnp.pad(grad, [(0, 0), (t, kt - 1 - t), (h, kh - 1 - h), (0, 0), (0, 0)])
              for t in range(kt) for h in range(kh)]
    dz = jnp.stack(padded, axis=-2).reshape(stacked.shape[:4] + (kt * kh * filters,))
    d_matrix = jnp.tensordot(stacked, dz, axes=[[0, 1, 2, 3], [0, 1, 2, 3]])
    d_stacked = dz @ matrix.T
    width = x.shape[3]
    dx = None
    for j in range(kw):
        part = jnp.pad(d_stacked[..., j * channels:(j + 1) * channels],
                       [(0, 0)] * 3 + [(j, width - d_stacked.shape[3] - j), (0, 0)])
        dx = part if dx is None else dx + part
    d_kernel = jnp.transpose(d_matrix.reshape(kw, channels, kt, kh, filters), (2, 3, 0, 1, 4))
    return dx, d_kernel


def _output_folded(x, kernel):
    """Stride-1 convolution for few filters: one matrix product with (kt, kh, F) outputs, summed shifted.

    Its gradients are matrix products too (a custom VJP): XLA's own weight
    gradient of a 2D convolution with 21 outputs took 0.4-0.9 s at the head's size.
    """
    import jax

    global _output_folded_vjp
    if _output_folded_vjp is None:
        _output_folded_vjp = jax.custom_vjp(lambda x, kernel: _output_folded_fwd(x, kernel)[0])
        _output_folded_vjp.defvjp(_output_folded_fwd, _output_folded_bwd)
    return _output_folded_vjp(x, kernel)


_output_folded_vjp = None


def _convolution_op(self, inputs, kernel):
    """`Conv3D.convolution_op` for 'valid', undilated, ungrouped, channels-last layers (all of ours)."""
    if (self.padding == "valid" and self.data_format == "channels_last" and self.groups == 1
            and all(d == 1 for d in self.dilation_rate)):
        return conv3d(inputs, kernel, self.strides)
    return type(self).convolution_op(self, inputs, kernel)


def accelerate(layer):
    """Points a `keras.layers.Conv3D` (or each in a model) at `conv3d` on JAX; no-op elsewhere.

    Per instance, not by subclassing: the class name in saved configs stays
    `keras.layers.Conv3D`, so models saved before and after read both ways.
    """
    if not folds_on_this_backend() or layer is None:
        return layer
    layers = layer._flatten_layers(include_self=True) if hasattr(layer, "_flatten_layers") else [layer]
    for item in layers:
        if type(item) is keras.layers.Conv3D:
            item.convolution_op = types.MethodType(_convolution_op, item)
    return layer
