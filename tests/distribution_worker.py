"""Data-parallel training on the backend named by KERAS_BACKEND, run by test_distribution.py.

    python distribution_worker.py SCENARIO OUT_DIR [CASE]

Virtual CPU devices must exist before the backend starts, so each scenario runs
in its own process: JAX gets XLA_FLAGS=--xla_force_host_platform_device_count
from the parent, TensorFlow's CPU is split here, before its first operation.

Scenarios:
- steps CASE ("3d" or "2d"): one model, the same global batches, trained 3
  steps on 1 and on 2 devices from identical weights -> steps-CASE.npz;
- recipe: `run.train` on OUT_DIR/recipe.toml: 1 vs 2 devices, and a
  checkpoint written on 2 devices resumed on 1 and the other way round
  -> recipe.npz;
- host: one host of a multi-host run (KERAS_DISTRIBUTION_* or TF_CONFIG set
  by the parent): `run.train` on the same recipe -> hostN.npz, hostN.json.
Every fresh model is built after keras.utils.set_random_seed(0), so all runs
start from the same weights.
Training uses SGD: Adam's first steps divide by |grad|, so float noise in
near-zero gradients becomes +-lr jumps and hides or fakes differences.
"""

import json
import os
import sys

if os.environ.get("KERAS_BACKEND") == "tensorflow" and int(os.environ.get("V2V_TEST_CPUS", "1")) > 1:
    import tensorflow as tf

    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * int(os.environ["V2V_TEST_CPUS"]),
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PairBatches, all_weights, tiny_2d, tiny_3d  # noqa: E402

from keras_v2v.training import distribution, pipeline, recipes, run  # noqa: E402
from keras_v2v.training.resumable import latest_checkpoint, read_progress  # noqa: E402

LEARNING_RATE = 0.002  # small steps: see test_distribution.py on tolerance


def sgd_compile(model, recipe):
    t = recipe.training
    model.compile(generator_optimizer=keras.optimizers.SGD(LEARNING_RATE),
                  discriminator_optimizer=keras.optimizers.SGD(LEARNING_RATE), gan_loss=t["gan_loss"],
                  lambda_cycle=t["lambda_cycle"], lambda_identity=t["lambda_identity"],
                  lambda_temporal=recipe.lambda_temporal, pool_size=t["pool_size"], seed=t["seed"])
    return model


pipeline.compile_model = sgd_compile
build_model = pipeline.build_model


def build_from_seed(recipe, recipe_data):
    """Every fresh run, on any device count or host, starts from the same weights."""
    keras.utils.set_random_seed(0)
    model = build_model(recipe, recipe_data)
    if not START:
        START.update(named_weights(model, "start"))
    return model


pipeline.build_model = build_from_seed
START = {}  # the first build's weights


def named_weights(model, prefix):
    return {f"{prefix}/{v.path}".lstrip("/"): w for v, w in zip(model.weights, all_weights(model))}


# ------------------------------------------------------------------ steps
CASES = {
    # 3D clips with the pool swapping from the first step; 2D sequential frames with
    # the temporal penalty, whose frame pairs span the replicas' halves.
    "3d": (lambda: tiny_3d(depth=4, size=16, temporal_stride=False), (4, 16, 16, 1),
           dict(pool_size=2, lambda_temporal=1.0)),
    "2d": (lambda: tiny_2d(size=16), (16, 16, 1), dict(pool_size=4, lambda_temporal=1.0)),
}


class FirstStep(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.weights = named_weights(self.model, "")


def steps_scenario(out, case, steps=3, batch=4):
    build, shape, options = CASES[case]
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (steps * batch,) + shape).astype("float32")
    b = rng.uniform(-1, 1, (steps * batch,) + shape).astype("float32")
    init = os.path.join(out, f"{case}.weights.h5")
    results = {}
    for devices in (1, 2):
        with distribution.scope(distribution.make_plan(devices)):
            model = build()
            if devices == 1:
                model.save_weights(init)
            model.load_weights(init)
            model.compile(generator_optimizer=keras.optimizers.SGD(LEARNING_RATE),
                          discriminator_optimizer=keras.optimizers.SGD(LEARNING_RATE), seed=7, **options)
            results.update(named_weights(model, f"{case}/{devices}/start"))
            first = FirstStep()
            history = model.fit(PairBatches(a, b, batch), epochs=steps, steps_per_epoch=1, verbose=0,
                                shuffle=False, callbacks=[first])
        results.update(named_weights(model, f"{case}/{devices}/end"))
        results.update({f"{case}/{devices}/first/{k}": v for k, v in first.weights.items()})
        for name, values in history.history.items():
            results[f"{case}/{devices}/log/{name}"] = np.asarray(values)
    np.savez(os.path.join(out, f"steps-{case}.npz"), **results)


# ----------------------------------------------------------------- recipe
def train_leg(recipe, run_dir, steps, devices):
    leg = recipe.replace(training={"steps": steps}, distribution={"devices": devices})
    model, progress, _ = run.train(leg, run_dir, verbose=0, tensorboard=False)
    return model, progress


def recipe_scenario(out):
    recipe = recipes.load_recipe(os.path.join(out, "recipe.toml"))
    results = {}
    # Two steps (the pool fills in the first, swaps with its RNG in the second): straight on
    # 1 device, and one step on each device count resumed on the other.
    for name, legs in {"one": [(2, 1)], "two_then_one": [(1, 2), (2, 1)], "one_then_two": [(1, 1), (2, 2)]}.items():
        run_dir = os.path.join(out, name)
        for steps, devices in legs:
            model, progress = train_leg(recipe, run_dir, steps, devices)
        assert read_progress(run_dir)["steps_done"] == 2
        results.update(named_weights(keras.saving.load_model(latest_checkpoint(run_dir)[0]), name))
        for key, values in progress["history"].items():
            results[f"{name}/log/{key}"] = np.asarray(values)
    np.savez(os.path.join(out, "recipe.npz"), **results, **START)


# ------------------------------------------------------------------- host
def host_scenario(out):
    recipe = recipes.load_recipe(os.path.join(out, "recipe.toml"))
    plan = distribution.make_plan(recipe.distribution["devices"])
    model, progress, _ = run.train(recipe, os.path.join(out, "run"), verbose=0, tensorboard=False)
    np.savez(os.path.join(out, f"host{plan.host}.npz"), **named_weights(model, f"host{plan.host}"))
    with open(os.path.join(out, f"host{plan.host}.json"), "w") as handle:
        json.dump({"plan": plan.describe(), "history": progress["history"]}, handle)


if __name__ == "__main__":
    scenario, out_dir, *args = sys.argv[1:]
    os.environ["V2V_TEST_OUT"] = out_dir
    {"steps": steps_scenario, "recipe": recipe_scenario, "host": host_scenario}[scenario](out_dir, *args)
