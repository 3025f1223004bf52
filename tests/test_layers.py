import keras
import numpy as np
import pytest
from keras import ops

from keras_v2v.models.layers import (
    CropToReference,
    InstanceNormalization,
    PadToValidSize,
    ReflectionPadding,
    ResidualBlock,
    edge_pad,
    reflect_pad,
)


@pytest.mark.multibackend
@pytest.mark.parametrize("shape,padding", [((2, 5, 6, 3), (2, 1)), ((1, 4, 5, 6, 2), (1, 2, 3))])
def test_reflection_padding_matches_numpy(rng, shape, padding):
    x = rng.normal(size=shape).astype("float32")
    expected = np.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)], mode="reflect")
    out = ops.convert_to_numpy(ReflectionPadding(padding)(x))
    np.testing.assert_allclose(out, expected, rtol=0, atol=0)


def test_reflection_padding_too_short_is_a_clear_error():
    with pytest.raises(ValueError, match="needs more than 3 entries"):
        reflect_pad(np.zeros((1, 3, 8, 1), "float32"), 1, 3)


@pytest.mark.multibackend
def test_edge_pad_matches_numpy(rng):
    x = rng.normal(size=(1, 3, 4, 2)).astype("float32")
    out = ops.convert_to_numpy(edge_pad(x, 1, 2, 5))
    np.testing.assert_array_equal(out, np.pad(x, [(0, 0), (2, 5), (0, 0), (0, 0)], mode="edge"))


@pytest.mark.multibackend
@pytest.mark.parametrize("rank", [2, 3])
def test_instance_norm_normalizes_each_sample_and_channel(rng, rank):
    shape = (3,) + (6,) * rank + (4,)
    x = (rng.normal(size=shape) * 5 + 3).astype("float32")
    out = ops.convert_to_numpy(InstanceNormalization()(x))
    axes = tuple(range(1, rank + 1))
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=axes), 1, atol=1e-3)


def test_instance_norm_affine_parameters_apply():
    layer = InstanceNormalization()
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 2)).astype("float32")
    layer(x)
    layer.gamma.assign([2.0, 3.0])
    layer.beta.assign([1.0, -1.0])
    out = ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(out.mean(axis=(1, 2))[0], [1.0, -1.0], atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2))[0], [2.0, 3.0], atol=1e-3)


@pytest.mark.multibackend
@pytest.mark.parametrize("rank", [2, 3])
def test_residual_block_keeps_shape_and_is_identity_at_zero_weights(rng, rank):
    shape = (2,) + (5,) * rank + (8,)
    x = rng.normal(size=shape).astype("float32")
    block = ResidualBlock(8, 3, rank)
    assert tuple(block(x).shape) == shape
    # With zero gamma and beta in the second norm the residual branch vanishes.
    block.norm2.gamma.assign(np.zeros(8, "float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(block(x)), x, atol=1e-6)


def test_residual_block_rejects_channel_mismatch_and_even_kernels():
    with pytest.raises(ValueError, match="skip connection"):
        ResidualBlock(8, 3, 2)(np.zeros((1, 5, 5, 4), "float32"))
    with pytest.raises(ValueError, match="odd kernel"):
        ResidualBlock(8, 4, 2)


@pytest.mark.parametrize(
    "layer",
    [
        ReflectionPadding((1, 2, 3)),
        InstanceNormalization(epsilon=1e-3, center=False),
        ResidualBlock(4, (3, 5, 5), 3, dropout=0.1),
        PadToValidSize((2, 4, 4), (4, 8, 8)),
        CropToReference(),
    ],
)
def test_layers_round_trip_through_serialization(layer):
    config = keras.saving.serialize_keras_object(layer)
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()


@pytest.mark.multibackend
def test_pad_to_valid_size_and_crop_undo_each_other(rng):
    x = rng.normal(size=(1, 3, 9, 10, 2)).astype("float32")
    padded = PadToValidSize((4, 4, 4), (8, 8, 8))(x)
    assert tuple(padded.shape) == (1, 8, 12, 12, 2)
    cropped = ops.convert_to_numpy(CropToReference()(padded, x))
    np.testing.assert_array_equal(cropped, x)
