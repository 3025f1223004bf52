import keras
import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v.models.cyclegan import METRIC_NAMES

from helpers import PairBatches, all_weights, random_pairs, tiny_2d, tiny_3d

pytestmark = pytest.mark.multibackend


@pytest.mark.parametrize("build,shape", [(tiny_3d, (4, 16, 16, 1)), (tiny_2d, (16, 16, 1))])
def test_fit_reports_every_loss_and_updates_all_networks(rng, build, shape):
    model = build(depth=4) if build is tiny_3d else build()
    model.compile(pool_size=2, lambda_temporal=1.0)
    before = all_weights(model)
    a, b = random_pairs(rng, 4, shape)
    history = model.fit(PairBatches(a, b, 2), epochs=2, verbose=0)
    assert set(history.history) == set(METRIC_NAMES)
    for name, values in history.history.items():
        assert len(values) == 2 and all(np.isfinite(values)), name
    assert history.history["temporal_loss"][0] > 0
    after = all_weights(model)
    for net in model.generators + model.discriminators:
        changed = any(
            not np.array_equal(x, y)
            for x, y, v in zip(before, after, model.weights)
            if any(v is w for w in net.trainable_variables)
        )
        assert changed, f"{net.name} was not updated"
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4


def test_evaluate_gives_the_same_metrics_without_changing_weights(rng):
    model = tiny_2d()
    model.compile()
    a, b = random_pairs(rng, 4, (16, 16, 1))
    before = all_weights(model)
    logs = model.evaluate(PairBatches(a, b, 2), verbose=0, return_dict=True)
    assert set(logs) == set(METRIC_NAMES)
    for x, y in zip(before, all_weights(model)):
        np.testing.assert_array_equal(x, y)


def test_fit_accepts_validation_data(rng):
    model = tiny_2d()
    model.compile(pool_size=0)
    a, b = random_pairs(rng, 4, (16, 16, 1))
    history = model.fit(PairBatches(a, b, 2), validation_data=PairBatches(a, b, 2), epochs=1, verbose=0)
    assert "val_cycle_loss" in history.history


def test_compile_rejects_keras_losses_and_bad_weights():
    model = tiny_2d()
    with pytest.raises(ValueError, match="defines its own losses"):
        model.compile(loss="mse")
    with pytest.raises(ValueError, match="gan_loss"):
        model.compile(gan_loss="wgan")
    with pytest.raises(ValueError, match="lambda_cycle"):
        model.compile(lambda_cycle=-1)


def test_identity_loss_is_disabled_with_a_warning_when_channels_differ():
    model = tiny_2d(channels=1, channels_b=3)
    with pytest.warns(UserWarning, match="identity loss"):
        model.compile()
    assert model.loss_config["lambda_identity"] == 0.0


def test_training_on_the_wrong_sample_shape_names_the_pool_problem(rng):
    model = tiny_2d(size=16)
    model.compile(pool_size=2)
    a, b = random_pairs(rng, 2, (24, 24, 1))
    with pytest.raises(Exception, match="input_shape"):
        model.fit(PairBatches(a, b, 2), epochs=1, verbose=0)


def test_vanilla_gan_loss_trains(rng):
    model = tiny_2d()
    model.compile(gan_loss="vanilla", pool_size=0)
    a, b = random_pairs(rng, 2, (16, 16, 1))
    history = model.fit(PairBatches(a, b, 2), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])


def test_too_small_frames_for_the_discriminator_are_a_clear_error():
    with pytest.raises(ValueError, match="discriminator_layers=2"):
        v2v.cyclegan_2d(input_shape=(16, 16, 3), discriminator_layers=3)


def test_wrong_input_shape_rank_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(D, H, W, C\)"):
        v2v.cyclegan_3d(input_shape=(16, 16, 3))
