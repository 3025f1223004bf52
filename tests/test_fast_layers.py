"""The faster forms of the generator's layers compute what the plain forms compute.

Native reflect/edge padding against numpy; `UpsampleConv` (nearest x2, reflection
padding and a 3-wide convolution computed on the input grid) against the three
layers it replaces, forward and backward; the fused instance norm against its
definition. Runs on every backend (`multibackend`).
"""

import numpy as np
import pytest
from keras import ops

from keras_v2v.models import backend_ops
from keras_v2v.models.layers import InstanceNormalization, UpsampleConv

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("shape, pads", [((2, 5, 6, 3), (1, 2)), ((2, 5, 6, 7, 3), (1, 2, 3)),
                                         ((1, 4, 9, 9, 2), (0, 3, 3))])
def test_native_padding_equals_numpy(shape, pads):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    width = [(0, 0)] + [(p, p) for p in pads] + [(0, 0)]
    np.testing.assert_array_equal(ops.convert_to_numpy(backend_ops.reflect_pad(x, pads)),
                                  np.pad(x, width, mode="reflect"))
    ones = tuple(min(p, 1) for p in pads)
    np.testing.assert_array_equal(ops.convert_to_numpy(backend_ops.edge_pad(x, ones)),
                                  np.pad(x, [(0, 0)] + [(p, p) for p in ones] + [(0, 0)], mode="edge"))


def test_reflect_pad_refuses_too_short_an_axis():
    with pytest.raises(ValueError, match="needs more than 3 entries"):
        backend_ops.reflect_pad(np.zeros((1, 3, 8, 1), "float32"), (3, 1))


def _upsample_pad_conv(x, kernel, bias, factors):
    up = np.asarray(x)
    for axis, factor in enumerate(factors, start=1):
        up = np.repeat(up, factor, axis=axis)
    up = np.pad(up, [(0, 0)] + [(1, 1)] * len(factors) + [(0, 0)], mode="reflect")
    return ops.convert_to_numpy(ops.conv(up, kernel, padding="valid")) + bias


@pytest.mark.parametrize("factors, size", [((2, 2), (5, 6)), ((1, 2, 2), (4, 5, 6)), ((2, 2, 2), (3, 5, 4))])
def test_upsample_conv_equals_upsampling_padding_and_convolution(factors, size):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2,) + size + (4,)).astype("float32")
    layer = UpsampleConv(3, factors)
    layer.build(x.shape)
    layer.bias.assign(rng.normal(size=3).astype("float32"))
    out = ops.convert_to_numpy(layer(x))
    expected = _upsample_pad_conv(x, ops.convert_to_numpy(layer.kernel), ops.convert_to_numpy(layer.bias), factors)
    assert out.shape == expected.shape == (2,) + tuple(s * f for s, f in zip(size, factors)) + (3,)
    np.testing.assert_allclose(out, expected, atol=2e-5)


def test_upsample_conv_gradients_equal_the_plain_form():
    """Input and kernel gradients of both forms agree (TensorFlow; the other backends share the ops)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient check written with tf.GradientTape")
    import tensorflow as tf

    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(1, 4, 6, 5, 3)).astype("float32"))
    layer = UpsampleConv(2, (1, 2, 2))
    layer.build(x.shape)
    weights = tf.constant(rng.normal(size=(1, 4, 12, 10, 2)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        fast = tf.reduce_sum(layer(x) * weights)
        up = tf.repeat(tf.repeat(x, 2, axis=2), 2, axis=3)
        up = tf.pad(up, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
        plain = tf.reduce_sum((tf.nn.conv3d(up, layer.kernel, [1] * 5, "VALID") + layer.bias) * weights)
    for fast_grad, plain_grad in zip(tape.gradient(fast, [x, layer.kernel]), tape.gradient(plain, [x, layer.kernel])):
        np.testing.assert_allclose(fast_grad.numpy(), plain_grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("per_frame", [False, True])
def test_fused_instance_norm_matches_its_definition(per_frame):
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, size=(2, 4, 5, 6, 3)).astype("float32")
    layer = InstanceNormalization(per_frame=per_frame)
    layer.build(x.shape)
    layer.gamma.assign(rng.normal(size=3).astype("float32"))
    layer.beta.assign(rng.normal(size=3).astype("float32"))
    axes = (2, 3) if per_frame else (1, 2, 3)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * ops.convert_to_numpy(layer.gamma) + ops.convert_to_numpy(layer.beta)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, atol=2e-5)


def test_generator_with_fast_layers_keeps_a_constant_clip_constant():
    from keras_v2v.models import resnet_generator

    generator = resnet_generator(rank=3, channels=1, filters=2, num_blocks=1, temporal_stride=False)
    frame = np.random.default_rng(4).uniform(-1, 1, size=(1, 1, 12, 12, 1)).astype("float32")
    out = ops.convert_to_numpy(generator(np.repeat(frame, 6, axis=1)))
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 6, axis=1), atol=1e-6)


def test_upsample_conv_in_a_model_with_an_unknown_batch():
    """Traced with the batch unknown (how fit and the exporters build it), then run on two batch sizes."""
    import keras

    rng = np.random.default_rng(3)
    inputs = keras.Input((3, 4, 5, 2))
    layer = UpsampleConv(3, (1, 2, 2))
    model = keras.Model(inputs, layer(inputs))
    for batch in (1, 3):
        x = rng.normal(size=(batch, 3, 4, 5, 2)).astype("float32")
        expected = _upsample_pad_conv(x, ops.convert_to_numpy(layer.kernel), ops.convert_to_numpy(layer.bias), (1, 2, 2))
        np.testing.assert_allclose(ops.convert_to_numpy(model(x)), expected, atol=2e-5)
