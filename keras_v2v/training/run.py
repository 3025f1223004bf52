"""Runs a recipe: resumable training with TensorBoard logs and sample GIFs."""

import os

import keras
import numpy as np

from keras_v2v import data
from keras_v2v.training import distribution, pipeline
from keras_v2v.training.recipes import check_run_dir
from keras_v2v.training.resumable import CHECKPOINT, read_progress, train_resumable


class SampleWriter(keras.callbacks.Callback):
    """Every `every` steps, writes input | a2b | b2a-of-B of a held-out clip as a GIF."""

    def __init__(self, folder, clip_a, every, first_step=0):
        super().__init__()
        self.folder, self.clip_a, self.every, self.step = folder, clip_a, int(every), first_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every and self.step % self.every == 0:
            self.write()

    def write(self):
        out = self.model.translate(self.clip_a, direction="a2b", batch_size=4)
        back = self.model.translate(out, direction="b2a", batch_size=4)
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"step-{self.step:07d}.gif")
        data.write_side_by_side(path, self.clip_a, out, back, labels=["input", "a2b", "cycle"], fps=8)


def tensorboard_callback(log_dir):
    """Keras' TensorBoard writer needs TensorFlow; without it, logs go to progress.json only."""
    try:
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        print("TensorBoard logs skipped: `pip install tensorflow tensorboard` to write them")
        return None
    return keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", write_graph=False)


def train(recipe, run_dir, verbose=1, tensorboard=True, recipe_data=None):
    """Trains (or resumes) `recipe` in `run_dir`. Returns (model, progress, recipe_data).

    `recipe_data`: the recipe's data when the caller already has it (`load_data(recipe)`).
    The recipe's [distribution] table picks the devices (`keras_v2v.training.distribution`);
    after a data-parallel run the returned model is the last checkpoint on one device.
    """
    plan = distribution.make_plan(recipe.distribution["devices"])
    plan.check_batch(pipeline.batch_size(recipe))
    check_run_dir(recipe, run_dir)
    recipe_data = recipe_data or pipeline.load_data(recipe)
    steps, chunk = recipe.training["steps"], recipe.training["chunk"]
    done = read_progress(run_dir)["steps_done"]
    callbacks = []
    # Several hosts: only the chief writes, and model calls outside fit would need every host.
    writes_extras = plan.is_chief and plan.hosts == 1
    if tensorboard and done < steps and writes_extras:
        board = tensorboard_callback(os.path.join(run_dir, "logs"))
        callbacks += [board] if board is not None else []
    if recipe.training["sample_every"] and done < steps and writes_extras:
        callbacks.append(SampleWriter(os.path.join(run_dir, "samples"), _sample_clip(recipe, recipe_data),
                                      recipe.training["sample_every"], first_step=done))
    with distribution.scope(plan):
        model, progress = train_resumable(
            lambda: pipeline.compile_model(pipeline.build_model(recipe, recipe_data), recipe),
            distribution.host_batches(plan, pipeline.batches(recipe, recipe_data)), steps, run_dir,
            steps_per_chunk=chunk, callbacks=callbacks, verbose=verbose, is_chief=plan.is_chief,
        )
    if plan.distributed and plan.is_chief:
        # Export, evaluation and samples after training run on one device, from what the run wrote.
        model = keras.saving.load_model(os.path.join(run_dir, CHECKPOINT))
    return model, progress, recipe_data


def _sample_clip(recipe, recipe_data):
    if recipe_data.test is not None:
        clip = recipe_data.test.a[0]
    else:
        source = recipe_data.train_a
        clip = source.read(0, 0, min(source.num_frames(0), 16))
    return np.asarray(clip)[: max(recipe.model["clip_length"], 8)]
