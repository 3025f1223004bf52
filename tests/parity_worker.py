"""One train_step on the backend named by KERAS_BACKEND, from saved weights and batch.

Run by test_parity.py in a subprocess per backend:
    python parity_worker.py WEIGHTS.weights.h5 BATCH.npz OUT.npz
"""

import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PairBatches, all_weights, tiny_3d  # noqa: E402


def main(weights_path, batch_path, out_path):
    batch = np.load(batch_path)
    model = tiny_3d(depth=4, size=16, channels=1)
    model.load_weights(weights_path)
    # SGD keeps the comparison well-conditioned: Adam's first step divides by
    # |grad|, turning float noise in near-zero gradients into +-lr jumps.
    model.compile(
        generator_optimizer=keras.optimizers.SGD(0.1),
        discriminator_optimizer=keras.optimizers.SGD(0.05),
        pool_size=0,
        lambda_temporal=1.0,
    )
    history = model.fit(PairBatches(batch["a"], batch["b"], 2), epochs=1, verbose=0, shuffle=False)
    logs = {f"log_{k}": np.float64(v[0]) for k, v in history.history.items()}
    weights = {f"w{i}": w for i, w in enumerate(all_weights(model))}
    np.savez(out_path, **logs, **weights)


if __name__ == "__main__":
    main(*sys.argv[1:])
