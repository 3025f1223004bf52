"""Data-parallel training on the backend named by KERAS_BACKEND, run by test_distribution.py.

    python distribution_worker.py OUT_DIR SCENARIO

Virtual CPU devices must exist before the backend starts, so the scenarios run
in their own processes: JAX gets XLA_FLAGS=--xla_force_host_platform_device_count
from the parent, TensorFlow's CPU is split here, before its first operation.
Both train `run.train` on OUT_DIR/recipe.toml, as `keras-v2v train` does:
- recipe (2 devices): all steps on 1 device ("one") and on 2 ("two"), with
  copies of their run folders after step 1 ("one_step1", "two_step1"); each
  copy resumed on the other device count ("one_then_two", "two_then_one")
  -> recipe.npz;
- step1 (2 devices): one step on 1 device ("one") and on 2 ("two") from the
  same fresh weights -> step1.npz;
- host: one host of a multi-host run (KERAS_DISTRIBUTION_* or TF_CONFIG set by
  the parent) -> hostN.npz, hostN.json.
Every fresh model is built after keras.utils.set_random_seed(0), so all runs
start from the same weights. Training uses SGD: Adam's first steps divide by
|grad|, so float noise in near-zero gradients becomes +-lr jumps and hides or
fakes differences.
"""

import contextlib
import functools
import json
import os
import shutil
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
from helpers import all_weights  # noqa: E402

from keras_v2v.training import distribution, pipeline, recipes, resumable, run  # noqa: E402
from keras_v2v.training.resumable import latest_checkpoint, read_progress  # noqa: E402

LEARNING_RATE = 0.002  # small steps: see test_distribution.py on tolerance
START = {}  # the first fresh model's weights


def sgd_compile(model, recipe):
    t = recipe.training
    model.compile(generator_optimizer=keras.optimizers.SGD(LEARNING_RATE),
                  discriminator_optimizer=keras.optimizers.SGD(LEARNING_RATE), gan_loss=t["gan_loss"],
                  lambda_cycle=t["lambda_cycle"], lambda_identity=t["lambda_identity"],
                  lambda_temporal=recipe.lambda_temporal, pool_size=t["pool_size"], seed=t["seed"])
    if not START:
        START.update(named_weights(model, "start"))
    return model


pipeline.compile_model = sgd_compile
REPLICAS = []  # replicas of each leg's mechanism, as `distribution.scope` made it
scope = distribution.scope


@contextlib.contextmanager
def recording_scope(plan):
    with scope(plan) as mechanism:
        if mechanism is None:
            REPLICAS.append(1)
        elif hasattr(mechanism, "num_replicas_in_sync"):  # tf.distribute
            REPLICAS.append(mechanism.num_replicas_in_sync)
        else:  # keras.distribution
            REPLICAS.append(int(np.size(mechanism.device_mesh.devices)))
        yield mechanism


distribution.scope = recording_scope


def named_weights(model, prefix):
    # Variable paths repeat across the two generators (and discriminators): number them.
    return {f"{prefix}/{i:03d}-{v.path}": w for i, (v, w) in enumerate(zip(model.weights, all_weights(model)))}


def train_leg(recipe, run_dir, steps, devices):
    run.train(recipe.replace(training={"steps": steps}, distribution={"devices": devices}), run_dir,
              verbose=0, tensorboard=False)


class SnapshotAfterStep1(resumable.ChunkCheckpoint):
    """Also copies the run folder as RUN_step1 once step 1's checkpoint is written."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.progress["steps_done"] == 1 and self.is_chief:
            shutil.copytree(self.run_dir, self.run_dir + "_step1")


resumable.ChunkCheckpoint = SnapshotAfterStep1


def recipe_scenario(out):
    recipe = recipes.load_recipe(os.path.join(out, "recipe.toml"))
    steps = recipe.training["steps"]
    path = functools.partial(os.path.join, out)
    for name, devices, other, other_devices in (("one", 1, "one_then_two", 2), ("two", 2, "two_then_one", 1)):
        train_leg(recipe, path(name), steps, devices)
        shutil.copytree(path(name + "_step1"), path(other))
        train_leg(recipe, path(other), steps, other_devices)
    results = {**START, "replicas": np.asarray(REPLICAS)}
    for name in ("one", "one_step1", "one_then_two", "two", "two_step1", "two_then_one"):
        progress = read_progress(path(name))
        assert progress["steps_done"] == (1 if name.endswith("step1") else steps), (name, progress)
        results.update(named_weights(keras.saving.load_model(latest_checkpoint(path(name))[0]), name))
        for key, values in progress["history"].items():
            results[f"{name}/log/{key}"] = np.asarray(values)
    np.savez(path("recipe.npz"), **results)


def step1_scenario(out):
    """One step from the same fresh weights on 1 device ("one") and on 2 ("two") -> step1.npz."""
    recipe = recipes.load_recipe(os.path.join(out, "recipe.toml"))
    results = {}
    for name, devices in (("one", 1), ("two", 2)):
        train_leg(recipe, os.path.join(out, name), 1, devices)
        progress = read_progress(os.path.join(out, name))
        results.update(named_weights(keras.saving.load_model(latest_checkpoint(os.path.join(out, name))[0]), name))
        for key, values in progress["history"].items():
            results[f"{name}/log/{key}"] = np.asarray(values)
    np.savez(os.path.join(out, "step1.npz"), **START, **results, replicas=np.asarray(REPLICAS))


def host_scenario(out):
    recipe = recipes.load_recipe(os.path.join(out, "recipe.toml"))
    plan = distribution.make_plan(recipe.distribution["devices"])
    model, progress, _ = run.train(recipe, os.path.join(out, "run"), verbose=0, tensorboard=False)
    np.savez(os.path.join(out, f"host{plan.host}.npz"), **named_weights(model, f"host{plan.host}"),
             replicas=np.asarray(REPLICAS))
    with open(os.path.join(out, f"host{plan.host}.json"), "w") as handle:
        json.dump({"plan": plan.describe(), "history": progress["history"]}, handle)


if __name__ == "__main__":
    out_dir, scenario = sys.argv[1:]
    {"recipe": recipe_scenario, "step1": step1_scenario, "host": host_scenario}[scenario](out_dir)
