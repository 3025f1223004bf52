"""The torch backend's fast paths compute what the keras.ops forms compute.

The fused instance norm (`backend_ops.instance_norm`, a torch autograd
Function) and the fused Adam step of `PairedOptimizer`'s optimizers, each against
the plain form on small tensors: outputs and gradients. Runs under
KERAS_BACKEND=torch (tests/test_backends.py reruns `multibackend` tests there);
skipped on the other backends, where these paths are not taken.
"""

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import instance_norm_fused_and_plain

pytestmark = [
    pytest.mark.multibackend,
    pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch backend fast paths"),
]


def _torch_outputs_and_gradients(layer, x, weights):
    import torch

    xt = torch.tensor(x, requires_grad=True)
    y = layer(xt)
    params = [v.value for v in (layer.gamma, layer.beta) if v is not None]
    grads = torch.autograd.grad((y * torch.tensor(weights)).sum(), [xt] + params)
    return [t.detach().numpy() for t in (y,) + tuple(grads)]


@pytest.mark.parametrize("shape, per_frame, affine", [((2, 4, 5, 6, 3), False, True), ((2, 4, 5, 6, 3), True, True),
                                                      ((3, 7, 5, 4), False, True), ((2, 3, 4, 5, 2), False, False)])
def test_fused_instance_norm_equals_keras_ops(monkeypatch, shape, per_frame, affine):
    fused, plain = instance_norm_fused_and_plain(monkeypatch, shape, per_frame, affine, _torch_outputs_and_gradients)
    assert len(fused) == len(plain) == (4 if affine else 2)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(b).max())))


def test_fused_instance_norm_keeps_the_input_dtype_under_mixed_precision():
    from keras_v2v.models.layers import InstanceNormalization

    layer = InstanceNormalization(dtype="mixed_float16")
    x = ops.cast(np.random.default_rng(1).normal(size=(1, 4, 6, 6, 2)).astype("float32"), "float16")
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert np.isfinite(ops.convert_to_numpy(ops.cast(out, "float32"))).all()


def _paired_models(fused):
    """Two tiny CycleGANs compiled alike; `fused=False` keeps Keras' own Adam update."""
    from keras_v2v.models import optimizers

    original = optimizers._fuse_torch_adam
    if not fused:
        optimizers._fuse_torch_adam = lambda optimizer: optimizer
    try:
        from helpers import tiny_3d

        keras.utils.set_random_seed(7)
        model = tiny_3d()
        model.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                      discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, epsilon=1e-3))
    finally:
        optimizers._fuse_torch_adam = original
    return model


def test_fused_adam_steps_like_keras_adam():
    import torch

    models = [_paired_models(fused=True), _paired_models(fused=False)]
    assert "_parallel_update_step" in vars(models[0].optimizer.generator_optimizer)
    assert "_parallel_update_step" not in vars(models[1].optimizer.generator_optimizer)
    variables = [m.generator_variables + m.discriminator_variables for m in models]
    for a, b in zip(*variables):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    rng = np.random.default_rng(2)
    for _ in range(4):
        grads = [rng.normal(size=v.shape).astype("float32") * 1e-2 for v in variables[0]]
        for model, vs in zip(models, variables):
            g = [torch.tensor(x) for x in grads]
            # A gradient through a permuted view is not contiguous (the fused kernel needs it to be).
            g[0] = g[0].permute(*reversed(range(g[0].ndim))).contiguous().permute(*reversed(range(g[0].ndim)))
            with torch.no_grad():
                model.optimizer.apply(g, vs)
    for a, b in zip(*variables):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
    for a, b in zip(models[0].optimizer.variables, models[1].optimizer.variables):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), rtol=1e-5, atol=1e-7)
    assert int(models[0].optimizer.iterations.value) == 4


def test_fused_adam_leaves_other_optimizers_alone():
    from keras_v2v.models.optimizers import _fuse_adam

    for optimizer in (keras.optimizers.Adam(amsgrad=True), keras.optimizers.AdamW(), keras.optimizers.SGD()):
        assert "_parallel_update_step" not in vars(_fuse_adam(optimizer))


def test_fused_adam_model_saves_and_reloads(tmp_path):
    model = _paired_models(fused=True)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert "_parallel_update_step" in vars(loaded.optimizer.generator_optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


def _objectives(model, a, b, stacked):
    """Generator and discriminator totals, logs and gradients with independent calls stacked or not."""
    import torch

    type(model).stack_independent_calls = stacked
    try:
        g_total, g_logs, fake_a, fake_b = model.generator_objective(a, b)
        g_grads = torch.autograd.grad(g_total, [v.value for v in model.generator_variables])
        fake_a, fake_b = model.pooled_fakes(fake_a, fake_b)
        d_total, d_logs = model.discriminator_objective(a, b, fake_a, fake_b)
        d_grads = torch.autograd.grad(d_total, [v.value for v in model.discriminator_variables])
    finally:
        del type(model).stack_independent_calls
    logs = {k: float(v.detach()) for k, v in {**g_logs, **d_logs}.items()}
    return logs, [g.numpy() for g in g_grads + d_grads], (fake_a.detach().numpy(), fake_b.detach().numpy())


@pytest.mark.parametrize("build", ["3d", "2d"])
def test_stacked_calls_give_the_losses_and_gradients_of_separate_calls(build):
    from helpers import tiny_2d, tiny_3d

    from keras_v2v.models.trainers.torch import BackendTrainer

    assert BackendTrainer.stack_independent_calls
    keras.utils.set_random_seed(5)
    model = tiny_3d(channels=2) if build == "3d" else tiny_2d(channels=2)
    model.compile(lambda_temporal=0.1)
    rng = np.random.default_rng(6)
    shape = (2, 8, 16, 16, 2) if build == "3d" else (2, 16, 16, 2)
    a, b = (ops.convert_to_tensor(rng.uniform(-1, 1, shape).astype("float32")) for _ in range(2))
    calls = {}
    for stacked in (True, False):
        counted = {net.name: 0 for net in model.generators + model.discriminators}
        originals = {}
        for net in model.generators + model.discriminators:
            originals[net.name] = net.call

            def counting(*args, _name=net.name, _call=net.call, **kwargs):
                counted[_name] += 1
                return _call(*args, **kwargs)

            net.call = counting
        try:
            calls[stacked] = (_objectives(model, a, b, stacked), dict(counted))
        finally:
            for net in model.generators + model.discriminators:
                net.call = originals[net.name]
    (logs, grads, fakes), count = calls[True]
    (plain_logs, plain_grads, plain_fakes), plain_count = calls[False]
    assert count == {"generator_a2b": 2, "generator_b2a": 2, "discriminator_a": 2, "discriminator_b": 2}, count
    assert plain_count == {"generator_a2b": 3, "generator_b2a": 3, "discriminator_a": 3, "discriminator_b": 3}
    assert logs.keys() == plain_logs.keys()
    for key in logs:
        np.testing.assert_allclose(logs[key], plain_logs[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for got, want in zip(fakes + tuple(grads), plain_fakes + tuple(plain_grads)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))


def test_no_stacking_across_batch_statistics_or_unequal_batches():
    from helpers import tiny_3d

    model = tiny_3d(channels=1, channels_b=2)
    model.compile()
    a, b = np.zeros((1, 8, 16, 16, 1), "float32"), np.zeros((1, 8, 16, 16, 2), "float32")
    assert model._stacks(ops.convert_to_tensor(a), ops.convert_to_tensor(a))
    assert not model._stacks(ops.convert_to_tensor(a), ops.convert_to_tensor(b))
    bn = keras.layers.BatchNormalization()
    model.discriminator_a._layers.append(bn)
    try:
        assert not model._stacks(ops.convert_to_tensor(a), ops.convert_to_tensor(a))
    finally:
        model.discriminator_a._layers.remove(bn)
