"""The generator's forward pass for `CycleGAN.translate`, its head convolution folded on TensorFlow.

The head (a 7-wide convolution down to 1 or 3 channels) was 60-70% of a
forward pass of the 7x7x7 presets on TensorFlow/CPU (and 8% of the inflated
1x7x7 ones): with so few output channels the convolution is a matrix-vector
product over very wide patches. Here the head's taps along its first axis
with more than one (time for 7x7x7, rows for 1x7x7 and 2D) become output
channels of a convolution without that axis, and the shifted slices are
summed: the same products added in another order, so outputs equal the plain
network's to float rounding; that layer runs 2.5-5x faster. The network's
variables are shared (no copy), so training later is seen. Other backends
(not measured to gain) and other generators use `compiled_forward` unchanged.
"""

import keras
from keras import ops

from keras_v2v.models.trainers import compiled_forward

# Heads with fewer output channels than this are folded (the generators' heads have 1 or 3).
FOLD_BELOW = 8


def _fold_axis(kernel_shape):
    """The first spatial axis with more than one tap, not the last (the convolution keeps that one)."""
    return next((a for a in range(len(kernel_shape) - 3) if kernel_shape[a] > 1), None)


def folded_conv(x, kernel, bias=None):
    """`ops.conv(x, kernel, padding="valid") + bias`, the taps of `_fold_axis` computed as output channels."""
    axis = _fold_axis(kernel.shape)
    if axis is None or any(s is None for s in x.shape[1:]):
        out = ops.conv(x, kernel, padding="valid")
        return out if bias is None else out + bias
    taps, channels_in, channels = kernel.shape[axis], kernel.shape[-2], kernel.shape[-1]
    # (..., taps, ..., in, out) -> (..., 1, ..., in, taps * out); output channel tap * out + c.
    folded = ops.moveaxis(kernel, axis, -2)
    folded = ops.reshape(folded, tuple(folded.shape[:-3]) + (channels_in, taps * channels))
    folded = ops.expand_dims(folded, axis)
    y = ops.conv(x, folded, padding="valid")
    size = y.shape[axis + 1] - taps + 1
    out = None
    for tap in range(taps):
        index = [slice(None)] * len(y.shape)
        index[axis + 1] = slice(tap, tap + size)
        index[-1] = slice(tap * channels, (tap + 1) * channels)
        part = y[tuple(index)]
        out = part if out is None else out + part
    return out if bias is None else out + bias


def _foldable_head(generator):
    """(head convolution, layers after it) of a keras_v2v generator whose head can be folded, else None."""
    names = [layer.name for layer in generator.layers[-3:]]
    if names != ["head_conv", "head_tanh", "crop_to_input"]:
        return None
    head = generator.layers[-3]
    plain = (
        isinstance(head, (keras.layers.Conv2D, keras.layers.Conv3D))
        and head.padding == "valid" and head.groups == 1
        and set(head.strides) == {1} and set(head.dilation_rate) == {1}
        and head.activation is keras.activations.linear
    )
    if not plain or head.filters >= FOLD_BELOW or _fold_axis(head.kernel.shape) is None:
        return None
    return head, generator.layers[-2], generator.layers[-1]


def translation_forward(generator):
    """The generator's compiled inference call for translate (see the module's docstring)."""
    found = _foldable_head(generator) if keras.backend.backend() == "tensorflow" else None
    if found is None:
        return compiled_forward(generator)
    import tensorflow as tf

    head, tanh, crop = found
    body = keras.Model(generator.inputs, head.input)  # the same layers and variables, up to the head

    @tf.function(reduce_retracing=False)
    def forward(x):
        y = body(x, training=False)
        bias = ops.cast(head.bias, y.dtype) if head.use_bias else None
        y = folded_conv(y, ops.cast(head.kernel, y.dtype), bias)
        return crop(tanh(y), x)

    return forward
