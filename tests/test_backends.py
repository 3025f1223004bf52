"""Reruns the model and training tests (marker `multibackend`) on JAX and PyTorch.

A Keras backend is fixed per process, so each backend gets its own pytest
subprocess; its output is shown when it fails.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_model_suite_passes_on(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "pytest", HERE, "-m", "multibackend", "-q", "-p", "no:cacheprovider",
               "-W", "ignore::DeprecationWarning"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3000, cwd=os.path.dirname(HERE))
    tail = (result.stdout + result.stderr)[-6000:]
    print(f"--- {backend} ---\n{tail}")
    assert result.returncode == 0, f"model tests failed on {backend}:\n{tail}"
