"""Keras callbacks that watch the CycleGAN's own losses, as the README's fit example uses them."""

import os
import re

import keras
import numpy as np
import pytest

from helpers import PairBatches, random_pairs, tiny_2d

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _readme_early_stopping():
    with open(README, encoding="utf-8") as handle:
        found = re.search(r"keras\.callbacks\.EarlyStopping\((.*?)\)", handle.read())
    assert found, "README.md shows no EarlyStopping example"
    return eval(f"dict({found.group(1)})")  # noqa: S307 (our own README)


def test_the_readme_early_stopping_example_runs_on_the_models_losses(rng):
    options = _readme_early_stopping()
    assert options["monitor"] == "g_loss" and options["mode"] == "min"
    model = tiny_2d()
    model.compile(run_eagerly=True)
    a, b = random_pairs(rng, 2, (16, 16, 1))
    history = model.fit(PairBatches(a, b, 1), epochs=2, verbose=0,
                        callbacks=[keras.callbacks.EarlyStopping(**options)])
    assert len(history.history["g_loss"]) == 2


def test_without_mode_keras_cannot_tell_the_direction_which_is_why_the_readme_says_min(rng):
    # If a Keras release learns the direction of a model's own metrics, the README's note can go.
    model = tiny_2d()
    model.compile(run_eagerly=True)
    a, b = random_pairs(rng, 1, (16, 16, 1))
    with pytest.raises(ValueError, match="automatically determine"):
        model.fit(PairBatches(a, b, 1), epochs=1, verbose=0,
                  callbacks=[keras.callbacks.EarlyStopping(monitor="g_loss")])
    np.testing.assert_equal(model.stop_training, False)
