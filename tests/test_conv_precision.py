"""bfloat16 convolutions for training (`conv_precision`): what they compute, and what stays float32."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from keras_v2v.models import conv_ops
from tests.helpers import PairBatches, random_pairs, tiny_3d


def _bf16(array):
    return ops.convert_to_numpy(ops.cast(ops.cast(array, "bfloat16"), "float32"))


@pytest.mark.multibackend
@pytest.mark.parametrize("shape, kernel_shape", [((1, 4, 9, 9, 5), (3, 3, 3, 5, 6)), ((2, 9, 9, 5), (3, 3, 5, 6))])
def test_bfloat16_precision_convolves_rounded_copies_and_returns_float32(shape, kernel_shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    kernel = rng.normal(size=kernel_shape).astype("float32")
    exact = ops.convert_to_numpy(conv_ops.conv(x, kernel))
    with conv_ops.precision("bfloat16"):
        low = conv_ops.conv(x, kernel)
    assert keras.backend.standardize_dtype(low.dtype) == "float32"
    low = ops.convert_to_numpy(low)
    rounded = ops.convert_to_numpy(conv_ops.conv(_bf16(x), _bf16(kernel)))
    # The products of the rounded inputs, accumulated in float32 and rounded once more.
    np.testing.assert_allclose(low, rounded, rtol=2e-2, atol=2e-2 * np.abs(rounded).max())
    error = np.abs(low - exact).max() / np.abs(exact).max()
    assert 1e-4 < error < 2e-2  # really bfloat16, and close
    with conv_ops.precision("float32"):
        np.testing.assert_array_equal(ops.convert_to_numpy(conv_ops.conv(x, kernel)), exact)
    # Outside the context again: float32.
    np.testing.assert_array_equal(ops.convert_to_numpy(conv_ops.conv(x, kernel)), exact)


@pytest.mark.multibackend
def test_conv_layers_follow_the_precision_and_keep_their_class():
    layer = conv_ops.accelerate(keras.layers.Conv3D(4, 3, padding="valid"))
    x = np.random.default_rng(1).normal(size=(1, 4, 6, 6, 3)).astype("float32")
    exact = ops.convert_to_numpy(layer(x))
    with conv_ops.precision("bfloat16"):
        low = ops.convert_to_numpy(layer(x))
    assert not np.array_equal(low, exact)
    np.testing.assert_allclose(low, exact, atol=3e-2 * np.abs(exact).max())
    assert type(layer) is keras.layers.Conv3D and layer.get_config()["padding"] == "valid"


def test_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match=r"conv_precision must be one of float32, bfloat16, got 'float16'"):
        with conv_ops.precision("float16"):
            pass
    model = tiny_3d(depth=4)
    with pytest.raises(ValueError, match=r"`conv_precision` must be one of float32, bfloat16, got 'bf16'"):
        model.compile(conv_precision="bf16")


def test_bfloat16_training_trains_saves_the_setting_and_evaluates_in_float32(tmp_path):
    rng = np.random.default_rng(2)
    a, b = random_pairs(rng, 2, (4, 16, 16, 1))
    results = {}
    for name in ("float32", "bfloat16"):
        keras.utils.set_random_seed(0)
        model = tiny_3d(depth=4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the emulated-bfloat16 warning on CPUs without it
            model.compile(conv_precision=name, pool_size=0)
        # Validation sees the float32 model whatever the training precision.
        results[name] = model.evaluate(PairBatches(a, b, 1), verbose=0, return_dict=True)
        before = [ops.convert_to_numpy(v) for v in model.generator_a2b.weights]
        history = model.fit(PairBatches(a, b, 1), epochs=1, verbose=0)
        assert np.isfinite(history.history["g_loss"]).all()
        assert any(not np.allclose(x, ops.convert_to_numpy(v)) for x, v in zip(before, model.generator_a2b.weights))
        if name == "bfloat16":
            path = str(tmp_path / "m.keras")
            model.save(path)
            assert keras.saving.load_model(path).loss_config["conv_precision"] == "bfloat16"
    for key, value in results["float32"].items():
        assert results["bfloat16"][key] == pytest.approx(value, rel=1e-5, abs=1e-7), key


@pytest.mark.parametrize("shape, kernel_shape, strides", [
    ((2, 6, 9, 8, 4), (3, 3, 3, 4, 5), (1, 1, 1)),
    ((1, 7, 9, 10, 4), (3, 3, 3, 4, 6), (1, 2, 2)),
    ((1, 5, 8, 8, 3), (1, 7, 7, 3, 2), (1, 1, 1)),  # one tap: plain Conv3D
    ((1, 8, 9, 10, 4), (3, 3, 3, 4, 6), (2, 1, 1)),  # time stride: plain Conv3D
])
def test_tensorflow_conv3d_with_per_tap_kernel_gradients_equals_conv3d(shape, kernel_shape, strides):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's bfloat16 training path")
    import tensorflow as tf

    rng = np.random.default_rng(3)
    x, kernel = (tf.constant(rng.normal(size=s).astype("float32")) for s in (shape, kernel_shape))

    def gradients(convolve):
        @tf.function(input_signature=[tf.TensorSpec((None,) + shape[1:]), tf.TensorSpec(kernel_shape)])
        def run(x, kernel):  # the batch unknown while tracing, as in fit
            with tf.GradientTape() as tape:
                tape.watch([x, kernel])
                y = convolve(x, kernel)
                loss = tf.reduce_sum(y * tf.reshape(tf.sin(tf.range(tf.size(y), dtype=tf.float32)), tf.shape(y)))
            return [y] + tape.gradient(loss, [x, kernel])
        return run, [v.numpy() for v in run(x, kernel)]

    _, expected = gradients(lambda x, k: tf.nn.conv3d(x, k, (1,) + strides + (1,), "VALID"))
    run, found = gradients(lambda x, k: conv_ops.tf_conv3d_frame_filter_grad(x, k, strides))
    for want, got in zip(expected, found):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    graph_ops = {op.type for op in run.get_concrete_function().graph.get_operations()}
    per_tap = kernel_shape[0] > 1 and strides[0] == 1
    assert ("Conv2DBackpropFilter" in graph_ops) == per_tap
