import keras
import numpy as np
import pytest

from helpers import PairBatches, random_pairs, tiny_2d, tiny_3d


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("build", [tiny_2d, tiny_3d])
def test_training_under_mixed_precision(rng, policy, build):
    keras.config.set_dtype_policy(policy)
    model = build()
    model.compile(pool_size=2)
    conv = model.generator_a2b.get_layer("stem_conv")
    assert conv.compute_dtype == policy.split("_")[1] and conv.variable_dtype == "float32"
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")
    a, b = random_pairs(rng, 4, model.sample_shape)
    history = model.fit(PairBatches(a, b, 2), epochs=1, verbose=0)
    for name, values in history.history.items():
        assert np.isfinite(values[0]), name
    video_shape = (3,) + model.sample_shape if model.rank == 2 else model.sample_shape
    out = model.translate(np.full(video_shape, 0.5, "float32"))
    assert out.dtype == np.float32 and np.isfinite(out).all()
