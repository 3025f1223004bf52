import keras
import numpy as np
import pytest

import keras_v2v as v2v

from helpers import PairBatches, random_pairs, tiny_2d

pytestmark = pytest.mark.multibackend


def _trained_looking(model, seed=0):
    """Random non-trivial weights everywhere (fresh norms are identity and biases zero)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.3, variable.shape).astype("float32"))
    return model


@pytest.mark.parametrize("upsampling", ["resize", "transpose"])
def test_inflated_model_equals_the_2d_model_frame_by_frame(rng, upsampling):
    model = _trained_looking(tiny_2d(size=16, channels=1, channels_b=3, upsampling=upsampling))
    video = rng.uniform(-1, 1, (2, 5, 20, 24, 1)).astype("float32")
    model_3d = v2v.inflate(model, clip_length=4)
    assert model_3d.rank == 3 and model_3d.sample_shape == (4, 16, 16, 1)
    assert model_3d.domains == model.domains and model_3d.channels_b == 3
    for g2, g3, x in ((model.generator_a2b, model_3d.generator_a2b, video),):
        framewise = keras.ops.convert_to_numpy(g2(x.reshape((-1,) + x.shape[2:]))).reshape(x.shape[:-1] + (3,))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(g3(x)), framewise, atol=1e-4)
    fake = rng.uniform(-1, 1, (1, 4, 16, 16, 3)).astype("float32")
    framewise = keras.ops.convert_to_numpy(model.discriminator_b(fake[0]))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model_3d.discriminator_b(fake))[0], framewise, atol=1e-4)
    # The body convolutions see three frames; the 2D weights sit in the middle tap.
    kernel = keras.ops.convert_to_numpy(model_3d.generator_a2b.get_layer("down0_conv").kernel)
    assert kernel.shape[0] == 3 and not kernel[0].any() and not kernel[2].any()


def test_mean_init_equals_the_2d_model_on_a_still_clip(rng):
    model = _trained_looking(tiny_2d(size=16))
    frame = rng.uniform(-1, 1, (1, 16, 16, 1)).astype("float32")
    still = np.repeat(frame[:, None], 4, axis=1)
    model_3d = v2v.inflate(model, clip_length=4, init="mean", discriminators=None)
    out = keras.ops.convert_to_numpy(model_3d.generator_a2b(still))
    expected = keras.ops.convert_to_numpy(model.generator_a2b(frame))
    np.testing.assert_allclose(out, np.repeat(expected[:, None], 4, axis=1), atol=1e-4)
    assert model_3d.discriminators == []


def test_inflated_model_trains_and_round_trips(rng, tmp_path):
    model_3d = v2v.inflate(tiny_2d(size=16), clip_length=4)
    model_3d.compile(pool_size=2)
    a, b = random_pairs(rng, 2, (4, 16, 16, 1))
    history = model_3d.fit(PairBatches(a, b, 1), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"]).all()
    path = str(tmp_path / "inflated.keras")
    model_3d.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.generator_a2b(a)),
                               keras.ops.convert_to_numpy(model_3d.generator_a2b(a)), atol=1e-6)


def test_inflate_refuses_what_it_cannot_inflate():
    with pytest.raises(ValueError, match="takes a 2D CycleGAN.*got a 3D CycleGAN"):
        v2v.inflate(v2v.cyclegan_3d((4, 16, 16, 1), filters=2, num_blocks=1, discriminator_filters=2,
                                    discriminator_layers=2))
    with pytest.raises(ValueError, match="`temporal_kernel` must be odd"):
        v2v.inflate(tiny_2d(), temporal_kernel=2)
    with pytest.raises(ValueError, match="`init` must be one of"):
        v2v.inflate(tiny_2d(), init="random")
