"""Small models and data shared by the tests (kept tiny: CPU, three backends)."""

import keras
import numpy as np

import keras_v2v as v2v


def tiny_3d(depth=8, size=16, channels=1, channels_b=None, **kwargs):
    return v2v.cyclegan_3d(
        input_shape=(depth, size, size, channels), channels_b=channels_b, filters=2,
        num_blocks=1, discriminator_filters=2, discriminator_layers=2, **kwargs,
    )


def tiny_2d(size=16, channels=1, channels_b=None, **kwargs):
    return v2v.cyclegan_2d(
        input_shape=(size, size, channels), channels_b=channels_b, filters=2,
        num_blocks=1, discriminator_filters=2, discriminator_layers=2, **kwargs,
    )


class PairBatches(keras.utils.PyDataset):
    """Fixed (a, b) batches for fit/evaluate."""

    def __init__(self, a, b, batch_size):
        super().__init__()
        self.a, self.b, self.batch_size = a, b, batch_size

    def __len__(self):
        return len(self.a) // self.batch_size

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.a[s], self.b[s]


def random_pairs(rng, n, sample_shape, channels_b=None):
    shape_b = sample_shape[:-1] + (channels_b or sample_shape[-1],)
    a = rng.uniform(-1, 1, (n,) + tuple(sample_shape)).astype("float32")
    b = rng.uniform(-1, 1, (n,) + tuple(shape_b)).astype("float32")
    return a, b


def all_weights(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.weights]


def card_round_trip(path):
    """Loads a model card the way the Hub does; returns (metadata dict, model name, EvalResults)."""
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    metadata = ModelCard.load(str(path)).data.to_dict()
    if "model-index" not in metadata:
        return metadata, None, []
    name, results = model_index_to_eval_results(metadata["model-index"])
    return metadata, name, results


def is_keras_v2v_card(path):
    """A README.md keras-v2v wrote (its footer), not a card a test damaged on purpose."""
    with open(path, encoding="utf-8") as handle:
        return "Made with [keras-v2v]" in handle.read()


def instance_norm_fused_and_plain(monkeypatch, shape, per_frame, affine, outputs_and_gradients):
    """(fused, plain): [y, dx, dgamma, dbeta] of an InstanceNormalization with the backend's own
    norm (`backend_ops.instance_norm`) and with the keras.ops form.

    `outputs_and_gradients(layer, x, weights)` differentiates sum(layer(x) * weights) with the
    backend's autodiff and returns numpy arrays (absent gamma/beta: no entry).
    """
    from keras_v2v.models import backend_ops
    from keras_v2v.models.layers import InstanceNormalization

    rng = np.random.default_rng(0)
    layer = InstanceNormalization(per_frame=per_frame, center=affine, scale=affine)
    layer.build(shape)
    if affine:
        layer.gamma.assign(rng.normal(size=shape[-1]).astype("float32"))
        layer.beta.assign(rng.normal(size=shape[-1]).astype("float32"))
    x = rng.normal(2.0, 3.0, size=shape).astype("float32")
    weights = rng.normal(size=shape).astype("float32")
    results = []
    for fused in (True, False):
        with monkeypatch.context() as patch:
            if not fused:
                patch.setattr(backend_ops, "instance_norm", lambda *args: None)
            results.append(outputs_and_gradients(layer, x, weights))
    return results
