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
    return _jax_conv3d(x, kernel, strides)


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
    if kt > 1 and st == 1 and filters <= _OUTPUT_FOLD_MAX_FILTERS:
        # (kh, kw, C, kt*F): tap t's filters are outputs t*F .. t*F + F - 1.
        k2 = jnp.transpose(kernel, (1, 2, 3, 0, 4)).reshape(kh, kw, channels, kt * filters)
        z = _conv2d(x.reshape(-1, height, width, channels), k2, strides[1:])
        z = z.reshape((-1, depth) + z.shape[1:3] + (kt, filters))
        y = lax.slice_in_dim(z[..., 0, :], 0, frames, axis=1)
        for t in range(1, kt):
            y = y + lax.slice_in_dim(z[..., t, :], t, t + frames, axis=1)
        return y
    # Frame t*st + i for tap i, stacked along channels tap-major, as the reshaped kernel reads them.
    taps = [lax.slice_in_dim(x, i, i + st * (frames - 1) + 1, st, axis=1) for i in range(kt)]
    stacked = taps[0] if kt == 1 else jnp.concatenate(taps, axis=-1)
    k2 = jnp.transpose(kernel, (1, 2, 0, 3, 4)).reshape(kh, kw, kt * channels, filters)
    y = _conv2d(stacked.reshape(-1, height, width, kt * channels), k2, strides[1:])
    return y.reshape((-1, frames) + y.shape[1:])


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
