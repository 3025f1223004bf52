"""The TensorFlow backend's fast paths compute what the keras.ops forms compute.

The custom-gradient instance norm (`backend_ops.instance_norm`) and the fused
Adam step (`ResourceApplyAdam`) of `PairedOptimizer`'s optimizers, each against
the plain form on small tensors: outputs, gradients, optimizer states. The
TensorFlow twin of tests/test_torch_fast_path.py; skipped on the other backends.
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import instance_norm_fused_and_plain

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow backend fast paths")


def _tf_outputs_and_gradients(layer, x, weights):
    import tensorflow as tf

    xt = tf.constant(x)
    params = [v.value for v in (layer.gamma, layer.beta) if v is not None]
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = tf.reduce_sum(y * weights)
    grads = tape.gradient(loss, [xt] + params)
    return [t.numpy() for t in [y] + grads]


@pytest.mark.parametrize("shape, per_frame, affine", [((2, 4, 5, 6, 3), False, True), ((2, 4, 5, 6, 3), True, True),
                                                      ((3, 7, 5, 4), False, True), ((2, 3, 4, 5, 2), True, False)])
def test_custom_gradient_instance_norm_equals_keras_ops(monkeypatch, shape, per_frame, affine):
    from keras_v2v.models import backend_ops

    calls = []
    fused_norm = backend_ops._tf_instance_norm
    monkeypatch.setattr(backend_ops, "_tf_instance_norm", lambda *args: calls.append(1) or fused_norm(*args))
    fused, plain = instance_norm_fused_and_plain(monkeypatch, shape, per_frame, affine, _tf_outputs_and_gradients)
    assert calls == [1]
    assert len(fused) == len(plain) == (4 if affine else 2)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("gamma, beta", [(True, True), (True, False), (False, True)])
def test_custom_gradient_instance_norm_in_a_tf_function_with_unknown_sizes(gamma, beta):
    import tensorflow as tf

    from keras_v2v.models import backend_ops

    rng = np.random.default_rng(3)
    x = rng.normal(1.0, 2.0, size=(2, 3, 5, 6, 4)).astype("float32")
    weights = rng.normal(size=x.shape).astype("float32")
    g = tf.constant(rng.normal(size=4).astype("float32")) if gamma else None
    b = tf.constant(rng.normal(size=4).astype("float32")) if beta else None
    params = [t for t in (g, b) if t is not None]

    def plain(x, g, b, axes):
        mean, variance = ops.moments(x, axes=axes, keepdims=True)
        scale = ops.rsqrt(variance + 1e-5) * (1.0 if g is None else g)
        return x * scale + (-mean * scale + (0.0 if b is None else b))

    for axes in ((2, 3), (1, 2, 3)):
        def step(x, *params, norm):
            with tf.GradientTape() as tape:
                tape.watch([x, *params])
                y = norm(x, g if g is None else params[0], b if b is None else params[-1], axes)
                loss = tf.reduce_sum(y * weights)
            return [y] + tape.gradient(loss, [x, *params])

        spec = [tf.TensorSpec((None, None, None, None, 4))] + [tf.TensorSpec((4,))] * len(params)
        fused = tf.function(lambda x, *p: step(x, *p, norm=lambda *a: backend_ops.instance_norm(*a[:3], 1e-5, a[3])),
                            input_signature=spec)
        got = fused(tf.constant(x), *params)
        want = step(tf.constant(x), *params, norm=plain)
        assert len(got) == 2 + len(params)
        for a, b_ in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b_.numpy(), rtol=1e-5,
                                       atol=1e-5 * max(1.0, float(np.abs(b_.numpy()).max())))


def _adam_pair(**kwargs):
    """A fused Adam and a plain one over equal variables."""
    from keras_v2v.models.optimizers import _fuse_adam

    rng = np.random.default_rng(4)
    values = [rng.normal(size=s).astype("float32") for s in ((3, 3, 2, 4), (4,), (5,))]
    fused, plain = _fuse_adam(keras.optimizers.Adam(**kwargs)), keras.optimizers.Adam(**kwargs)
    assert "update_step" in vars(fused) and "update_step" not in vars(plain)
    variables = [[keras.Variable(v) for v in values] for _ in range(2)]
    return (fused, plain), variables


def _assert_same_states(optimizers, variables):
    for a, b in zip(*variables):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-6, atol=1e-6)
    for a, b in zip(optimizers[0].variables, optimizers[1].variables):
        # The kernel takes 1 - beta in float32 (1 - float32(0.999) is 1.3e-5 off 0.001), Keras in
        # float64, so the second moments differ by that much relatively.
        rtol = 2e-5 if "velocity" in a.path else 1e-6
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=rtol, atol=1e-7,
                                   err_msg=a.path)


@pytest.mark.parametrize("graph", [False, True])
def test_fused_adam_steps_like_keras_adam(graph):
    import tensorflow as tf

    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=2, decay_rate=0.5)
    optimizers, variables = _adam_pair(learning_rate=schedule, beta_1=0.5, epsilon=1e-3)
    rng = np.random.default_rng(5)
    def applier(optimizer, vs):
        optimizer.build(vs)
        # Closed over: a tf.function turns its arguments into tensors.
        return lambda grads: optimizer.apply(grads, vs)

    applies = [applier(o, vs) for o, vs in zip(optimizers, variables)]
    if graph:
        applies = [tf.function(apply) for apply in applies]
    for _ in range(5):
        grads = [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables[0]]
        for apply in applies:
            apply(grads)
    _assert_same_states(optimizers, variables)
    assert [int(o.iterations.value) for o in optimizers] == [5, 5]
    # The steps did move the weights (by lr-sized amounts).
    assert not np.allclose(ops.convert_to_numpy(variables[0][1]), np.random.default_rng(4).normal(size=4))


def test_fused_adam_falls_back_for_sparse_gradients(monkeypatch):
    import tensorflow as tf

    counted = []
    keras_step = keras.optimizers.Adam.update_step
    monkeypatch.setattr(keras.optimizers.Adam, "update_step",
                        lambda self, *args: counted.append(1) or keras_step(self, *args))
    optimizers, variables = _adam_pair(learning_rate=1e-2)
    rng = np.random.default_rng(6)
    for _ in range(3):
        dense = [rng.normal(size=v.shape).astype("float32") for v in variables[0]]
        sparse = tf.IndexedSlices(tf.constant(dense[2][[1, 3]]), tf.constant([1, 3]), tf.constant([5]))
        for optimizer, vs in zip(optimizers, variables):
            optimizer.apply([tf.constant(dense[0]), tf.constant(dense[1]), sparse], vs)
    # The plain optimizer steps every variable with Keras' update, the fused one only the sparse one.
    assert len(counted) == 3 * 3 + 3
    _assert_same_states(optimizers, variables)


def test_fused_adam_under_a_one_device_strategy():
    import tensorflow as tf

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        optimizers, variables = _adam_pair(learning_rate=1e-2, beta_2=0.99)
    rng = np.random.default_rng(7)

    @tf.function
    def step(grads):
        for optimizer, vs in zip(optimizers, variables):
            strategy.run(lambda: optimizer.apply(grads, vs))

    for _ in range(3):
        step([tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables[0]])
    _assert_same_states(optimizers, variables)


def test_fused_adam_falls_back_under_two_replicas():
    """Per-replica slots: Keras' own update under a MirroredStrategy over two (virtual) CPUs."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from keras_v2v.models.optimizers import _fuse_adam

        counted = []
        keras_step = keras.optimizers.Adam.update_step
        keras.optimizers.Adam.update_step = lambda self, *args: counted.append(self.name) or keras_step(self, *args)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        rng = np.random.default_rng(0)
        values = [rng.normal(size=s).astype("float32") for s in ((3, 2), (4,))]
        with strategy.scope():
            optimizers = [_fuse_adam(keras.optimizers.Adam(1e-2, name="fused")), keras.optimizers.Adam(1e-2)]
            variables = [[keras.Variable(v) for v in values] for _ in range(2)]
        grads = [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in values]

        @tf.function
        def step():
            for optimizer, vs in zip(optimizers, variables):
                strategy.run(lambda: optimizer.apply(grads, vs))

        step()
        step()
        assert "update_step" in vars(optimizers[0])
        # Keras' update for every variable on every replica, fused or not.
        assert counted.count("fused") == len(counted) // 2 >= 2 * 2, counted
        for a, b in zip(*variables):
            np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6)
        print("OK")
    """)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                           os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stdout + result.stderr


def test_fused_adam_leaves_other_optimizers_alone():
    from keras_v2v.models.optimizers import _fuse_adam

    for optimizer in (keras.optimizers.Adam(amsgrad=True), keras.optimizers.AdamW(), keras.optimizers.SGD()):
        assert "update_step" not in vars(_fuse_adam(optimizer))


def test_tiny_cyclegan_trains_with_the_fast_paths_and_reloads(monkeypatch, tmp_path):
    from helpers import PairBatches, all_weights, random_pairs, tiny_2d

    from keras_v2v.models import backend_ops

    calls = []
    fused_norm = backend_ops._tf_instance_norm
    monkeypatch.setattr(backend_ops, "_tf_instance_norm", lambda *args: calls.append(1) or fused_norm(*args))
    model = tiny_2d()
    model.compile(generator_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                  discriminator_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    for optimizer in (model.optimizer.generator_optimizer, model.optimizer.discriminator_optimizer):
        assert "update_step" in vars(optimizer)
    before = all_weights(model)
    a, b = random_pairs(np.random.default_rng(8), 4, (16, 16, 1))
    history = model.fit(PairBatches(a, b, 2), epochs=1, verbose=0)
    assert calls  # traced through the custom-gradient norm
    assert all(np.isfinite(values).all() for values in history.history.values())
    changed = [not np.array_equal(x, y) for x, y in zip(before, all_weights(model))]
    assert sum(changed) > len(changed) // 2
    assert int(model.optimizer.iterations.value) == 2
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert "update_step" in vars(loaded.optimizer.generator_optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for x, y in zip(all_weights(model), all_weights(loaded)):
        np.testing.assert_array_equal(x, y)
    loaded.fit(PairBatches(a, b, 2), epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations.value) == 4
