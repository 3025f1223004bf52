"""translate's forward pass (head folded on TensorFlow) equals the generator's, and follows its weights."""

import keras
import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v.models import translate_forward
from keras_v2v.models.inflate import inflate

from helpers import tiny_2d, tiny_3d

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("kernel_shape", [(7, 7, 7, 4, 1), (1, 7, 7, 5, 3), (3, 1, 5, 2, 2), (7, 7, 3, 1)])
def test_folded_conv_equals_the_convolution(kernel_shape, rng):
    rank = len(kernel_shape) - 2
    x = rng.standard_normal((2,) + (9,) * rank + (kernel_shape[-2],)).astype("float32")
    kernel = rng.standard_normal(kernel_shape).astype("float32")
    bias = rng.standard_normal(kernel_shape[-1:]).astype("float32")
    expected = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, padding="valid") + bias)
    folded = keras.ops.convert_to_numpy(translate_forward.folded_conv(x, kernel, bias))
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-4)


def _inflated():
    return inflate(v2v.cyclegan_2d(input_shape=(16, 16, 3), filters=4, num_blocks=1, discriminator_filters=2,
                                   discriminator_layers=2), clip_length=8, discriminators=None)


@pytest.mark.parametrize("build", [lambda: tiny_3d(depth=8, size=16, channels=1), _inflated,
                                   lambda: tiny_2d(size=16, channels=1)], ids=["7x7x7", "inflated", "2d"])
def test_translation_forward_equals_the_generator_and_follows_its_weights(build, rng):
    model = build()
    generator = model.generator_a2b
    if keras.backend.backend() == "tensorflow":
        assert translate_forward._foldable_head(generator) is not None  # the folded path is the one tested
    forward = model._compiled_forward("a2b")
    x = rng.uniform(-1, 1, (3,) + tuple(model.sample_shape)).astype("float32")
    for _ in range(2):
        expected = keras.ops.convert_to_numpy(generator(x, training=False))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(forward(x)), expected, atol=1e-5)
        head = generator.get_layer("head_conv")  # as training would: new weights, same compiled forward
        head.kernel.assign(head.kernel * 1.5 + 0.01)
