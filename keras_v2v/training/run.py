"""Runs a recipe: resumable training with step-indexed TensorBoard logs and sample GIFs."""

import os

import keras
import numpy as np

from keras_v2v import data
from keras_v2v.data.resize import resize_frames
from keras_v2v.training import distribution, pipeline, threads
from keras_v2v.training.progress import StepTensorBoard
from keras_v2v.training.recipes import check_run_dir
from keras_v2v.training.resumable import latest_checkpoint, read_progress, train_resumable


class SampleWriter(keras.callbacks.Callback):
    """Every `every` steps, writes input | a2b | cycle of a held-out clip as a GIF (and to TensorBoard)."""

    def __init__(self, folder, clip_a, every, first_step=0, board=None):
        super().__init__()
        self.folder, self.clip_a, self.every, self.step = folder, clip_a, int(every), first_step
        self.board = board

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
        if self.board is not None:
            self.board.image("samples/input_a2b_cycle", sample_strip(self.clip_a, out, back), self.step)


def _rgb_uint8(video):
    video = np.asarray(video)
    if video.dtype != np.uint8:
        video = np.clip(np.rint(video.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(video, 3, axis=-1) if video.shape[-1] == 1 else video[..., :3]


def sample_strip(*videos, frames=8):
    """One image of a sample: a row per picked frame, the videos side by side (input | a2b | cycle)."""
    videos = [_rgb_uint8(v) for v in videos]
    picks = np.linspace(0, len(videos[0]) - 1, min(frames, len(videos[0]))).round().astype(int)
    image = np.concatenate([np.concatenate([v[t] for v in videos], axis=1) for t in picks], axis=0)
    scale = max(1, 64 // videos[0].shape[1])  # small quick-budget frames, enlarged so they are legible
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def tensorboard_callback(log_dir, first_step=0, every=10):
    """Scalars and sample images at the global step; needs TensorFlow's summary writer.

    Without TensorFlow, TensorBoard logs are skipped (progress.json still records the losses).
    """
    try:
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        print("TensorBoard logs skipped: `pip install tensorflow tensorboard` to write them")
        return None
    return StepTensorBoard(log_dir, first_step=first_step, every=every)


def prepare(recipe, run_dir):
    """Checks devices and batch, then records the recipe in `run_dir`. Returns (plan, notice).

    In this order so that a refused start leaves no recipe behind that the corrected
    command would be refused against; `notice` says when a recorded recipe was replaced.
    """
    plan = distribution.make_plan(recipe.distribution["devices"])
    plan.check_batch(pipeline.batch_size(recipe))
    return plan, check_run_dir(recipe, run_dir, record=plan.is_chief)


def train(recipe, run_dir, verbose=1, tensorboard=True, recipe_data=None, plan=None):
    """Trains (or resumes) `recipe` in `run_dir`. Returns (model, progress, recipe_data).

    `recipe_data`: the recipe's data when the caller already has it (`load_data(recipe)`).
    The recipe's [distribution] table picks the devices (`keras_v2v.training.distribution`);
    after a data-parallel run the returned model is the last checkpoint on one device.
    `plan`: what `prepare(recipe, run_dir)` returned, when the caller ran it already.
    """
    if plan is None:
        plan, notice = prepare(recipe, run_dir)
        if notice and verbose:
            print(notice)
    # Threads and devices first: TensorFlow sets both only before its first operation
    # (the TensorBoard writer is one).
    in_use = threads.configure(recipe.distribution["threads_per_op"], recipe.distribution["ops_at_once"])
    if in_use and verbose:
        print(in_use)
    with distribution.scope(plan):
        model, progress, recipe_data = _train(recipe, run_dir, plan, verbose, tensorboard, recipe_data)
    if plan.distributed and plan.is_chief:
        # Export, evaluation and samples after training run on one device, from what the run wrote.
        model = keras.saving.load_model(latest_checkpoint(run_dir)[0])
    return model, progress, recipe_data


def _train(recipe, run_dir, plan, verbose, tensorboard, recipe_data):
    recipe_data = recipe_data or pipeline.load_data(recipe)
    steps, chunk = recipe.training["steps"], recipe.training["chunk"]
    done = read_progress(run_dir)["steps_done"]
    callbacks, board = [], None
    # Several hosts: only the chief writes, and model calls outside fit would need every host.
    writes_extras = plan.is_chief and plan.hosts == 1
    if tensorboard and done < steps and writes_extras:
        board = tensorboard_callback(os.path.join(run_dir, "logs"), first_step=done, every=min(10, chunk))
        callbacks += [board] if board is not None else []
    if recipe.training["sample_every"] and done < steps and writes_extras:
        callbacks.append(SampleWriter(os.path.join(run_dir, "samples"), _sample_clip(recipe, recipe_data),
                                      recipe.training["sample_every"], first_step=done, board=board))

    def fresh_model():
        # The recipe's seed fixes the weights' initialisation too, so two runs of a recipe match.
        keras.utils.set_random_seed(recipe.training["seed"])
        return pipeline.compile_model(pipeline.build_model(recipe, recipe_data), recipe)

    model, progress = train_resumable(
        fresh_model, distribution.host_batches(plan, pipeline.batches(recipe, recipe_data)), steps, run_dir,
        steps_per_chunk=chunk, callbacks=callbacks, verbose=verbose, is_chief=plan.is_chief,
    )
    return model, progress, recipe_data


def _sample_clip(recipe, recipe_data):
    if recipe_data.test is not None:
        clip = recipe_data.test.a[0]
    else:
        source = recipe_data.train_a
        clip = source.read(0, 0, min(source.num_frames(0), 16))
        if recipe_data.resize:  # user clips of any size: the size the model trains at
            clip = resize_frames(clip, recipe_data.resize)
    return np.asarray(clip)[: max(recipe.model["clip_length"], 8)]
