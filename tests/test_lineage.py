"""A preset fine-tuned from another keeps its lineage; the class method loads as the module function does."""

import json
import os

import keras
import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v.models.cyclegan import CycleGAN

from helpers import card_round_trip

BASE = "vmnist-sph2sand-2d-random"  # small 2D preset: one eager step is quick


@pytest.fixture(scope="module")
def base():
    return CycleGAN.from_pretrained(BASE)


def test_the_class_method_loads_the_preset_by_its_name(base):
    assert isinstance(base, CycleGAN) and base.name == BASE  # not its recipe's "v2v_..." name
    lite = CycleGAN.from_preset(BASE, discriminators=False)  # KerasHub's spelling
    assert not lite.discriminators
    for ours, theirs in zip(base.generator_a2b.weights, v2v.from_pretrained(BASE).generator_a2b.weights):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def _fine_tune_one_step(model):
    model.compile(generator_optimizer=keras.optimizers.SGD(1e-4), discriminator_optimizer=keras.optimizers.SGD(1e-4),
                  run_eagerly=True)
    frames = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 1)).astype("float32")
    model.fit(frames, frames[::-1], batch_size=2, epochs=1, verbose=0)
    return model


def test_a_fine_tuned_preset_records_its_base_task_and_a_derived_name(tmp_path):
    model = _fine_tune_one_step(v2v.from_pretrained(BASE))
    model.save_pretrained(str(tmp_path / "mine"))
    with open(tmp_path / "mine" / "keras_v2v.json") as handle:
        spec = json.load(handle)
    assert spec["name"] == f"{BASE}-finetuned" and spec["base_model"] == f"keras-v2v/{BASE}"
    assert (spec["task"], spec["method"], spec["domains"]) == ("vmnist-sph2sand", "2d-random",
                                                             ["spherical", "sandglass"])
    assert "evaluation" not in spec  # the base's metrics do not describe the fine-tuned weights
    card = (tmp_path / "mine" / "README.md").read_text()
    metadata, _, _ = card_round_trip(tmp_path / "mine" / "README.md")
    assert metadata["base_model"] == f"keras-v2v/{BASE}"
    assert f"# {BASE}-finetuned" in card and "keras-v2v-model" not in card and "method: custom" not in card
    assert f"fine-tuned from [keras-v2v/{BASE}](https://huggingface.co/keras-v2v/{BASE})" in card
    again = _fine_tune_one_step(v2v.from_pretrained(str(tmp_path / "mine")))  # a second generation
    again.save_pretrained(str(tmp_path / "again"))
    with open(tmp_path / "again" / "keras_v2v.json") as handle:
        assert json.load(handle)["name"] == f"{BASE}-finetuned"


def test_a_preset_saved_again_without_training_is_the_same_preset(base, tmp_path):
    base.save_pretrained(str(tmp_path / "copy"))
    with open(tmp_path / "copy" / "keras_v2v.json") as handle:
        spec = json.load(handle)
    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "zoo", BASE, "keras_v2v.json")) as handle:
        original = json.load(handle)
    assert "base_model" not in spec
    for key in ("name", "task", "method", "description", "evaluation"):
        assert spec[key] == original[key], key
