import keras
import numpy as np
import pytest
from keras import ops

from keras_v2v.models.networks import patchgan_discriminator, resnet_generator


def _run(model, x):
    return ops.convert_to_numpy(model(x))


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "rank,shape",
    [
        (2, (2, 64, 64, 3)),
        (2, (1, 31, 17, 3)),  # not a multiple of the stride
        (2, (1, 1, 2, 3)),  # shorter than reflection padding needs
        (3, (1, 8, 32, 32, 3)),
        (3, (1, 7, 33, 50, 3)),
        (3, (1, 1, 9, 9, 3)),
    ],
)
def test_generator_output_shape_and_range(rng, rank, shape):
    gen = resnet_generator(rank, channels=3, out_channels=2, filters=4, num_blocks=1)
    out = _run(gen, rng.uniform(-1, 1, shape).astype("float32"))
    assert out.shape == shape[:-1] + (2,)
    assert out.dtype == np.float32
    assert np.all(np.abs(out) <= 1.0)


@pytest.mark.parametrize("upsampling", ["resize", "transpose"])
@pytest.mark.parametrize("temporal_stride", [True, False])
def test_generator_variants_build_and_run(rng, upsampling, temporal_stride):
    gen = resnet_generator(
        3, channels=1, filters=4, num_blocks=2, stem_kernel_size=3,
        temporal_stride=temporal_stride, upsampling=upsampling,
    )
    out = _run(gen, rng.uniform(-1, 1, (1, 6, 20, 20, 1)).astype("float32"))
    assert out.shape == (1, 6, 20, 20, 1)


def test_generator_structure_follows_johnson_et_al():
    gen = resnet_generator(2, channels=3, filters=64, num_blocks=9, upsampling="transpose")
    convs = [l for l in gen.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    assert [c.kernel_size for c in convs] == [(7, 7), (3, 3), (3, 3), (3, 3), (3, 3), (7, 7)]
    assert [c.strides for c in convs[:3]] == [(1, 1), (2, 2), (2, 2)]
    assert [c.filters for c in convs] == [64, 128, 256, 128, 64, 3]
    assert sum(1 for l in gen.layers if l.name.startswith("block")) == 9
    # The reference PyTorch CycleGAN resnet_9blocks generator has 11,378,179
    # parameters; ours adds exactly the instance norms' affine gamma and beta.
    affine = sum(l.count_params() for l in gen.layers if "norm" in l.name)
    affine += sum(2 * l.filters * 2 for l in gen.layers if l.name.startswith("block"))
    assert gen.count_params() - affine == 11_378_179


def test_3d_generator_defaults_stride_time_and_use_7_wide_stem():
    gen = resnet_generator(3, channels=3, filters=8, num_blocks=1)
    stem = gen.get_layer("stem_conv")
    down = gen.get_layer("down0_conv")
    assert stem.kernel_size == (7, 7, 7)
    assert down.strides == (2, 2, 2)
    flat = resnet_generator(3, channels=3, filters=8, num_blocks=1, stem_kernel_size=3, temporal_stride=False)
    assert flat.get_layer("stem_conv").kernel_size == (3, 3, 3)
    assert flat.get_layer("down0_conv").strides == (1, 2, 2)


@pytest.mark.multibackend
def test_clip_constant_over_time_stays_constant(rng):
    gen = resnet_generator(3, channels=3, filters=4, num_blocks=1)
    frame = rng.uniform(-1, 1, (1, 1, 24, 24, 3)).astype("float32")
    out = _run(gen, np.repeat(frame, 8, axis=1))
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 8, axis=1), atol=1e-5)


def test_patchgan_is_70x70_in_2d():
    disc = patchgan_discriminator(2, channels=3, filters=64)
    convs = [l for l in disc.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 256, 512, 1]
    # Receptive field of k4 s2,s2,s2,s1,s1 convolutions.
    field = 1
    for conv in reversed(convs):
        field = (field - 1) * conv.strides[0] + conv.kernel_size[0]
    assert field == 70
    assert disc(np.zeros((1, 256, 256, 3), "float32")).shape == (1, 30, 30, 1)


@pytest.mark.multibackend
@pytest.mark.parametrize("depth", [1, 8, 30])
def test_patchgan_3d_accepts_short_and_long_clips(depth):
    disc = patchgan_discriminator(3, channels=1, filters=4)
    out = _run(disc, np.zeros((2, depth, 64, 64, 1), "float32"))
    assert out.shape[0] == 2 and out.shape[-1] == 1 and out.shape[1] >= 1


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="rank"):
        resnet_generator(4)
    with pytest.raises(ValueError, match="upsampling"):
        resnet_generator(2, upsampling="bilinear")
    with pytest.raises(ValueError, match="stem_kernel_size"):
        resnet_generator(3, stem_kernel_size=(7, 7))
