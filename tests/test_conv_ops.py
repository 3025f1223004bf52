"""3D convolutions as folded 2D ones (JAX's fast path) compute what `keras.ops.conv` computes.

The folds are JAX code, checked here on any backend against `keras.ops.conv`
(forward) and against JAX's own Conv3D (gradients). On JAX (a subprocess),
models built, saved, loaded and read from a preset use them, and their saved
configs still name `keras.layers.Conv3D`.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from keras import ops

from keras_v2v.models import conv_ops

pytestmark = pytest.mark.multibackend
jax = pytest.importorskip("jax")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (input shape, kernel (kt, kh, kw, in, out), strides): the stems/heads, the body and
# down-sampling convs, UpsampleConv's 2x2x2 phases, the PatchGAN and its logits.
CASES = [
    ((2, 5, 12, 11, 3), (1, 7, 7, 3, 4), (1, 1, 1)),
    ((2, 5, 12, 11, 4), (1, 7, 7, 4, 8), (1, 1, 1)),
    ((1, 9, 10, 10, 3), (7, 7, 7, 3, 8), (1, 1, 1)),
    ((1, 9, 10, 10, 8), (7, 7, 7, 8, 3), (1, 1, 1)),
    ((2, 6, 9, 8, 4), (3, 3, 3, 4, 5), (1, 1, 1)),
    ((1, 7, 9, 10, 4), (3, 3, 3, 4, 6), (2, 2, 2)),
    ((1, 7, 9, 10, 4), (3, 3, 3, 4, 6), (1, 2, 2)),
    ((1, 8, 9, 10, 4), (3, 3, 3, 4, 6), (2, 1, 1)),
    ((1, 8, 10, 11, 3), (3, 4, 4, 3, 6), (2, 2, 2)),
    ((1, 4, 7, 7, 6), (3, 4, 4, 6, 1), (1, 1, 1)),
    ((1, 4, 7, 7, 6), (3, 4, 4, 6, 2), (2, 1, 1)),
    ((2, 3, 5, 6, 4), (1, 1, 1, 4, 3), (1, 1, 1)),
    ((1, 3, 5, 6, 4), (1, 1, 1, 4, 3), (2, 2, 2)),
    ((1, 4, 6, 6, 4), (2, 2, 2, 4, 16), (1, 1, 1)),
    # Inference forms: a head wider than two column tiles, a 1-channel stem, a narrow layer.
    ((1, 2, 10, 29, 5), (1, 7, 7, 5, 3), (1, 1, 1)),
    ((1, 9, 10, 19, 1), (7, 7, 7, 1, 8), (1, 1, 1)),
    ((1, 5, 8, 9, 6), (3, 3, 3, 6, 16), (1, 1, 1)),
]
IDS = [f"k{'x'.join(map(str, k[:3]))}-c{k[3]}-f{k[4]}-s{''.join(map(str, s))}" for _, k, s in CASES]


def _data(shape, kernel_shape):
    rng = np.random.default_rng(sum(shape) + sum(kernel_shape))
    return rng.normal(size=shape).astype("float32"), rng.normal(size=kernel_shape).astype("float32")


def _lax_conv3d(x, kernel, strides):
    return jax.lax.conv_general_dilated(x, kernel, strides, "VALID", dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))


@pytest.mark.parametrize("shape, kernel_shape, strides", CASES, ids=IDS)
def test_folded_conv3d_equals_keras_conv(shape, kernel_shape, strides):
    x, kernel = _data(shape, kernel_shape)
    expected = ops.convert_to_numpy(ops.conv(x, kernel, strides, padding="valid"))
    folded = np.asarray(conv_ops._jax_conv3d(jax.numpy.asarray(x), jax.numpy.asarray(kernel), strides))
    assert folded.shape == expected.shape
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    # The dispatching entry point on this process's backend.
    got = ops.convert_to_numpy(conv_ops.conv3d(x, kernel, strides))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("shape, kernel_shape, strides", CASES, ids=IDS)
def test_forward_only_conv3d_equals_keras_conv(shape, kernel_shape, strides):
    # The inference forms (JAX `compiled_forward`): column tiles for heads and 1-channel stems,
    # 2D convolutions for kt = 1, time or spatial taps on the outputs.
    x, kernel = _data(shape, kernel_shape)
    expected = ops.convert_to_numpy(ops.conv(x, kernel, strides, padding="valid"))
    with conv_ops.forward_only():
        folded = np.asarray(conv_ops._jax_conv3d(jax.numpy.asarray(x), jax.numpy.asarray(kernel), strides))
    assert folded.shape == expected.shape
    np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("shape, kernel_shape, strides", CASES[:4] + CASES[5:6] + CASES[8:10], ids=IDS[:4] + IDS[5:6] + IDS[8:10])
def test_folded_conv3d_gradients_equal_jax_conv3d(shape, kernel_shape, strides):
    x, kernel = _data(shape, kernel_shape)
    weights = np.random.default_rng(1).normal(size=_lax_conv3d(x, kernel, strides).shape).astype("float32")

    def loss(conv):
        return lambda x, k: (conv(x, k, strides) * weights).sum()

    expected = jax.grad(loss(_lax_conv3d), argnums=(0, 1))(x, kernel)
    got = jax.grad(loss(conv_ops._jax_conv3d), argnums=(0, 1))(x, kernel)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-5, atol=1e-5 * np.abs(e).max())


_JAX_MODELS = textwrap.dedent("""
    import json, os, platform, sys, tempfile, zipfile
    import keras, numpy as np
    import keras_v2v as v2v
    from keras_v2v.models import conv_ops
    sys.path.insert(0, "tests")
    from helpers import tiny_3d

    def conv3d_layers(model):
        return [l for net in model.generators + [model.discriminator_a]
                for l in net._flatten_layers() if isinstance(l, keras.layers.Conv3D)]

    def check_fast(model):
        layers = conv3d_layers(model)
        assert layers and all(type(l) is keras.layers.Conv3D for l in layers)
        assert all("convolution_op" in vars(l) for l in layers), [l.name for l in layers]

    model = tiny_3d(depth=8, size=16, channels=1)
    check_fast(model)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 8, 16, 16, 1)).astype("float32")
    fast = [np.asarray(model.generator_a2b(x)), np.asarray(model.discriminator_a(x))]
    for layer in conv3d_layers(model):
        del layer.convolution_op   # back to keras.ops.conv
    plain = [np.asarray(model.generator_a2b(x)), np.asarray(model.discriminator_a(x))]
    for f, p in zip(fast, plain):
        np.testing.assert_allclose(f, p, rtol=1e-5, atol=1e-5 * np.abs(p).max())

    path = os.path.join(tempfile.mkdtemp(), "m.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert '"class_name": "Conv3D"' in config and "conv_ops" not in config
    loaded = keras.saving.load_model(path)
    check_fast(loaded)
    np.testing.assert_allclose(np.asarray(loaded.generator_a2b(x)), plain[0], rtol=1e-5, atol=1e-5)

    preset = v2v.from_pretrained("mnist-colorize-3d", discriminators=False)
    layers = [l for net in preset.generators for l in net._flatten_layers() if isinstance(l, keras.layers.Conv3D)]
    assert layers and all("convolution_op" in vars(l) for l in layers)

    # translate's compiled forward (the inference forms, full size) computes the layers' forward.
    from keras_v2v.models.trainers import compiled_forward
    from keras_v2v.utils import host_memory

    clip = np.random.default_rng(1).uniform(-1, 1, (1, 8, 64, 64, 3)).astype("float32")
    generator = preset.generator_a2b
    fast = np.asarray(compiled_forward(generator)(clip))
    np.testing.assert_allclose(fast, np.asarray(generator(clip)), rtol=1e-4, atol=1e-4)
    if platform.libc_ver()[0] == "glibc":
        assert host_memory.keep_freed_memory() is True
    print("OK")
""")


def test_jax_models_use_the_folded_conv_and_save_plain_conv3d():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", _JAX_MODELS], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0 and "OK" in result.stdout, (result.stdout + result.stderr)[-4000:]


def test_other_backends_keep_keras_conv():
    from keras import backend

    assert conv_ops.folds_on_this_backend() == (backend.backend() == "jax")
