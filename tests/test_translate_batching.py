"""Translate's passes: windows (3D) and frames (2D) split evenly over the passes, outputs unchanged.

Also the native PyTorch translate of the benchmarks (benchmarks/native_translate.py)
equals `model.translate` for an inflated 3D model (1x7x7 stem, 3x3x3 body, per-frame norms).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_v2v.utils import windows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("count, batch_size, expected", [(17, 8, 6), (9, 8, 5), (16, 8, 8), (3, 8, 3), (1, 8, 1),
                                                         (8, 1, 1), (25, 8, 7)])
def test_items_are_split_evenly_over_the_fewest_passes(count, batch_size, expected):
    assert windows.per_call(count, batch_size) == expected


def _recording(shapes):
    """A per-sample stand-in network (each output frame depends on its own input and its place in the window)."""

    def generate(batch):
        shapes.append(batch.shape)
        where = np.linspace(-0.5, 0.5, batch.shape[1], dtype=np.float32).reshape((1, -1) + (1,) * (batch.ndim - 2))
        return np.tanh(batch * 0.7 + (where if batch.ndim == 5 else 0.1))

    return generate


@pytest.mark.parametrize("frames, window", [(64, 8), (64, 16), (40, 8), (9, 8), (5, 8)])
def test_windowed_passes_are_equal_and_barely_padded_and_outputs_do_not_change(frames, window):
    video = np.random.default_rng(frames).integers(0, 256, (frames, 6, 5, 2), dtype=np.uint8)
    shapes = []
    out = windows.translate(_recording(shapes), video, rank=3, channels=2, window=window, batch_size=8)
    sizes = [s[0] for s in shapes]
    assert len(set(sizes)) == 1 and sizes[0] <= 8  # one compiled shape per video
    margin = windows.time_margin(frames, window, window // 2)
    needed = len(windows.window_starts(frames + 2 * margin, window, window // 2))
    assert len(sizes) == -(-needed // 8) and sum(sizes) - needed < len(sizes)
    one_by_one = windows.translate(_recording([]), video, rank=3, channels=2, window=window, batch_size=1)
    np.testing.assert_array_equal(out, one_by_one)


def test_framewise_passes_are_equal_and_outputs_do_not_change():
    video = np.random.default_rng(0).uniform(0, 1, (20, 6, 5, 1)).astype(np.float32)
    shapes = []
    out = windows.translate(_recording(shapes), video, rank=2, channels=1, batch_size=8)
    assert [s[0] for s in shapes] == [7, 7, 7]
    np.testing.assert_array_equal(out, windows.translate(_recording([]), video, rank=2, channels=1, batch_size=1))


def test_native_torch_translate_equals_keras_for_an_inflated_model():
    pytest.importorskip("torch")
    import keras_v2v as v2v
    from keras_v2v.models.inflate import inflate

    sys.path.insert(0, ROOT)
    from benchmarks.native_translate import architecture, native_generator, native_translate

    model = inflate(v2v.cyclegan_2d(input_shape=(16, 16, 3), filters=4, num_blocks=1, discriminator_filters=2,
                                    discriminator_layers=2), clip_length=8)
    generator = model.generator_a2b
    arch = architecture(generator)
    assert arch["per_frame"] and arch["stem"] == (1, 7, 7) and arch["body"] == (3, 3, 3)
    net = native_generator(generator)
    video = np.random.default_rng(1).uniform(0, 1, (21, 16, 16, 3)).astype(np.float32)
    for frames in (5, 8, 21):
        expected = model.translate(video[:frames], batch_size=3)
        np.testing.assert_allclose(native_translate(net, video[:frames], window=8, batch_size=3), expected, atol=1e-3)


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="TensorFlow run only")
def test_translate_native_benchmark_reports_keras_native_and_siblings(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "native.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "benchmarks")]),
           "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "translate_native.py"), "--presets",
                             "mnist-colorize-3d", "--clips", "10", "--repeats", "1", "--json", str(out)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (row,) = json.loads(out.read_text())["results"]
    assert row["parity_max_grey_levels"] <= 1 and row["shape"] == [10, 64, 64, 3]
    assert row["keras"]["fps_min"] <= row["keras"]["fps_median"] <= row["keras"]["fps_max"]
    assert "mnist-colorize-2d-random" in row["siblings"] and row["ratio"] > 0
