import json
import os

import keras
import numpy as np
import pytest

import keras_v2v as v2v
from keras_v2v.presets.storage import PRESET_FILE, WEIGHTS_FILE

from helpers import PairBatches, all_weights, random_pairs, tiny_3d

pytestmark = pytest.mark.multibackend


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    model = tiny_3d(depth=4, size=16, channels=1)
    model.compile(
        generator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
        pool_size=2, lambda_temporal=0.5,
    )
    a, b = random_pairs(rng, 4, (4, 16, 16, 1))
    model.fit(PairBatches(a, b, 2), epochs=1, verbose=0)
    return model, (a, b)


def _clip():
    return np.random.default_rng(3).integers(0, 256, (6, 16, 16, 1), dtype=np.uint8)


def test_keras_file_round_trips_outputs_and_optimizer_state(trained, tmp_path):
    model, (a, b) = trained
    path = str(tmp_path / "run.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, v2v.CycleGAN)
    np.testing.assert_array_equal(restored.translate(_clip()), model.translate(_clip()))
    assert restored.loss_config == model.loss_config
    inner = restored._paired_optimizer
    assert float(inner.discriminator_optimizer.learning_rate) == pytest.approx(5e-4)
    assert len(restored.optimizer.variables) == len(model.optimizer.variables)
    for x, y in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y))


def test_training_resumes_identically_after_reload(trained, tmp_path):
    model, (a, b) = trained
    path = str(tmp_path / "run.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    # The history pool is random; without it both continue deterministically.
    for m in (model, restored):
        m.pool_a.size = m.pool_b.size = 0
        m.train_function = None  # retrace without the pool
    model.fit(PairBatches(a, b, 2), epochs=1, verbose=0, shuffle=False)
    restored.fit(PairBatches(a, b, 2), epochs=1, verbose=0, shuffle=False)
    for x, y in zip(all_weights(model), all_weights(restored)):
        np.testing.assert_allclose(x, y, atol=1e-5)


def test_preset_folder_round_trip(trained, tmp_path):
    model, _ = trained
    folder = tmp_path / "my-preset"
    model.save_pretrained(folder)
    names = set(os.listdir(folder))
    assert {"config.json", "metadata.json", WEIGHTS_FILE, PRESET_FILE, "README.md"} <= names
    spec = json.loads((folder / PRESET_FILE).read_text())
    assert spec["rank"] == 3 and spec["input_shape"] == [4, 16, 16, 1]
    loaded = v2v.from_pretrained(str(folder))
    np.testing.assert_array_equal(loaded.translate(_clip()), model.translate(_clip()))
    # A preset is loadable with plain Keras too, and carries no optimizer or pool.
    plain = keras.saving.load_model(str(folder))
    assert plain.pool_a is None and not plain.compiled
    assert "library_name: keras" in (folder / "README.md").read_text()


def test_preset_refuses_to_overwrite_and_rejects_tampered_weights(trained, tmp_path):
    model, _ = trained
    folder = tmp_path / "preset"
    model.save_pretrained(folder)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save_pretrained(folder)
    model.save_pretrained(folder, overwrite=True)
    weights = folder / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        v2v.from_pretrained(str(folder))


def test_missing_preset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No preset folder"):
        v2v.from_pretrained(str(tmp_path / "nothing-here"))
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        v2v.from_pretrained(str(tmp_path / "half"))


def test_loaded_preset_can_be_compiled_and_fine_tuned(trained, tmp_path):
    model, (a, b) = trained
    model.save_pretrained(tmp_path / "p")
    loaded = v2v.from_pretrained(str(tmp_path / "p"))
    loaded.compile(pool_size=1)
    history = loaded.fit(PairBatches(a, b, 2), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
