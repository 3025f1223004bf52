"""Runs a recipe: resumable training with TensorBoard logs and sample GIFs."""

import os

import keras
import numpy as np

from keras_v2v import data
from keras_v2v.training import pipeline
from keras_v2v.training.recipes import check_run_dir
from keras_v2v.training.resumable import read_progress, train_resumable


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
    """
    check_run_dir(recipe, run_dir)
    recipe_data = recipe_data or pipeline.load_data(recipe)
    steps, chunk = recipe.training["steps"], recipe.training["chunk"]
    done = read_progress(run_dir)["steps_done"]
    callbacks = []
    if tensorboard and done < steps:
        board = tensorboard_callback(os.path.join(run_dir, "logs"))
        callbacks += [board] if board is not None else []
    if recipe.training["sample_every"] and done < steps:
        callbacks.append(SampleWriter(os.path.join(run_dir, "samples"), _sample_clip(recipe, recipe_data),
                                      recipe.training["sample_every"], first_step=done))

    def fresh_model():
        # The recipe's seed fixes the weights' initialisation too, so two runs of a recipe match.
        keras.utils.set_random_seed(recipe.training["seed"])
        return pipeline.compile_model(pipeline.build_model(recipe, recipe_data), recipe)

    model, progress = train_resumable(
        fresh_model,
        pipeline.batches(recipe, recipe_data), steps, run_dir, steps_per_chunk=chunk, callbacks=callbacks, verbose=verbose,
    )
    return model, progress, recipe_data


def _sample_clip(recipe, recipe_data):
    if recipe_data.test is not None:
        clip = recipe_data.test.a[0]
    else:
        source = recipe_data.train_a
        clip = source.read(0, 0, min(source.num_frames(0), 16))
    return np.asarray(clip)[: max(recipe.model["clip_length"], 8)]
