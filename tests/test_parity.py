"""From identical weights and one identical batch, one train_step on TensorFlow,
JAX and PyTorch gives the same losses and the same updated weights."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import random_pairs, tiny_3d

BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b if b != "tensorflow" else "tensorflow")]
WORKER = os.path.join(os.path.dirname(__file__), "parity_worker.py")


def _run(backend, weights, batch, out):
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, WORKER, weights, batch, out], env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{backend} worker failed:\n{result.stderr[-4000:]}"
    return dict(np.load(out))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs at least two Keras backends installed")
def test_one_train_step_matches_across_backends(tmp_path, rng):
    weights = str(tmp_path / "init.weights.h5")
    tiny_3d(depth=4, size=16, channels=1).save_weights(weights)
    a, b = random_pairs(rng, 2, (4, 16, 16, 1))
    batch = str(tmp_path / "batch.npz")
    np.savez(batch, a=a, b=b)
    results = {be: _run(be, weights, batch, str(tmp_path / f"{be}.npz")) for be in BACKENDS}
    reference = results[BACKENDS[0]]
    start = tiny_3d(depth=4, size=16, channels=1)
    start.load_weights(weights)
    initial = [np.asarray(w) for w in start.weights]
    moved = sum(not np.allclose(initial[i], reference[f"w{i}"]) for i in range(len(initial)))
    assert moved > len(initial) // 2  # the step really changed the weights
    for backend in BACKENDS[1:]:
        other = results[backend]
        for key in reference:
            if key.startswith("log_"):
                np.testing.assert_allclose(other[key], reference[key], rtol=1e-4, err_msg=f"{backend} {key}")
            else:
                # float32 convolutions sum in different orders per backend.
                np.testing.assert_allclose(other[key], reference[key], atol=1e-4, err_msg=f"{backend} {key}")
        weight_keys = [k for k in reference if k.startswith("w")]
        worst = max(np.abs(other[k] - reference[k]).max() for k in weight_keys)
        print(f"{backend} vs {BACKENDS[0]}: max |weight difference| after one step = {worst:.2e}")
