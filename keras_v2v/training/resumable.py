"""Resumable training: checkpoint every chunk of steps, continue after a stop.

A run folder holds `checkpoint-<step>.keras` (the whole CycleGAN: weights,
optimizer state, history pools) and `progress.json` (loss history, time).
The step count lives in the checkpoint's file name, which one atomic rename
creates, so the checkpoint and its step are one record: a run killed at any
moment resumes from exactly the step its newest checkpoint holds, never
retraining or skipping a chunk. `progress.json` is written after the
checkpoint; when a kill falls between the two, the resumed run keeps the
checkpoint's step and notes the missing chunk of loss history.
Runs written before this scheme (`checkpoint.keras` plus `steps_done` in
`progress.json`) still resume.

Kept ours rather than keras.callbacks.BackupAndRestore: that one restores into a model the
caller built and compiled again, and it does not set the sampler's epoch (which decides the
batches a resumed run draws); its backup is one folder per run rather than a whole-model
checkpoint whose file name holds its step (what export and `latest_checkpoint` read).
"""

import json
import os
import re
import shutil
import tempfile
import time

import keras

from keras_v2v.training.progress import StepProgress
from keras_v2v.utils.files import atomic_path, write_json

CHECKPOINT = "checkpoint.keras"  # the older, unnumbered checkpoint name
PROGRESS = "progress.json"
_NUMBERED = re.compile(r"^checkpoint-(\d{7,})\.keras$")


def checkpoint_path(run_dir, step):
    return os.path.join(run_dir, f"checkpoint-{int(step):07d}.keras")


def latest_checkpoint(run_dir):
    """(path, step) of the newest checkpoint in `run_dir`, or (None, 0)."""
    if not os.path.isdir(run_dir):
        return None, 0
    numbered = [(int(m.group(1)), name) for name in os.listdir(run_dir) if (m := _NUMBERED.match(name))]
    if numbered:
        step, name = max(numbered)
        return os.path.join(run_dir, name), step
    legacy = os.path.join(run_dir, CHECKPOINT)
    if os.path.exists(legacy):
        return legacy, int(_read_progress_file(run_dir).get("steps_done", 0))
    return None, 0


def _read_progress_file(run_dir):
    path = os.path.join(run_dir, PROGRESS)
    if not os.path.exists(path):
        return {}
    with open(path) as handle:
        return json.load(handle)


def read_progress(run_dir):
    """{"steps_done", "train_seconds", "history"}: steps from the newest checkpoint, the rest from progress.json."""
    progress = {"steps_done": 0, "train_seconds": 0.0, "history": {}, **_read_progress_file(run_dir)}
    _, step = latest_checkpoint(run_dir)
    if step != progress["steps_done"]:
        # Killed between the checkpoint and progress.json: the checkpoint is the record.
        progress["history_gap"] = sorted(set(progress.get("history_gap", [])) | {step})
        progress["steps_done"] = step
    return progress


class ChunkCheckpoint(keras.callbacks.Callback):
    """Saves the model, then the progress record, at the end of every epoch (= chunk).

    `total_steps` ends the run there: the last chunk stops early when the run's
    steps are not a whole number of chunks, and its checkpoint holds that step.

    `on_saved(step, path)`, when given, is told about each checkpoint (the progress display).
    With several hosts every host saves (reading distributed variables may need all
    of them) but only the chief writes into `run_dir`; the others write a scratch folder.
    """

    def __init__(self, run_dir, steps_per_chunk, progress, on_saved=None, is_chief=True, total_steps=None):
        super().__init__()
        self.run_dir = run_dir
        self.steps_per_chunk = steps_per_chunk
        self.total_steps = total_steps
        self.progress = progress
        self.on_saved = on_saved
        self.is_chief = is_chief
        self.folder = run_dir

    def on_train_begin(self, logs=None):
        self.folder = self.run_dir if self.is_chief else tempfile.mkdtemp(prefix="keras-v2v-worker-")

    def on_train_end(self, logs=None):
        if not self.is_chief:
            shutil.rmtree(self.folder, ignore_errors=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.time()
        self._step = epoch * self.steps_per_chunk

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.total_steps and self._step >= self.total_steps:
            # Keras ends the epoch after this batch and still calls on_epoch_end (the checkpoint).
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        step = min((epoch + 1) * self.steps_per_chunk, self.total_steps or float("inf"))
        previous, _ = latest_checkpoint(self.folder)
        with atomic_path(checkpoint_path(self.folder, step)) as tmp:
            self.model.save(tmp)
        if previous and previous != checkpoint_path(self.folder, step):
            os.remove(previous)
        self.progress["train_seconds"] = self.progress.get("train_seconds", 0.0) + time.time() - self._started
        self.progress["steps_done"] = step
        for name, value in (logs or {}).items():
            self.progress["history"].setdefault(name, []).append(float(value))
        write_json(os.path.join(self.folder, PROGRESS), self.progress)
        if self.on_saved is not None:
            self.on_saved(step, checkpoint_path(self.folder, step))


class ChunkStream(keras.utils.PyDataset):
    """`batches`, chunk after chunk, as one endless dataset that `fit` reads with one iterator.

    Item i is batch i % chunk of chunk `first_chunk + i // chunk`, drawn with the sampler's epoch
    set to that chunk + 1 (the epoch Keras' own per-epoch `on_epoch_end` calls gave it). Why: with
    a finite dataset Keras makes a new TensorFlow iterator every epoch, and dropping the old one
    can hold the GIL while its prefetch thread waits for it: 4-21 s lost at random chunk starts
    (benchmarks/README.md). Keras reads items one at a time in order, so setting the epoch per
    item is safe; a dataset without `epoch` has its `on_epoch_end` called between chunks instead.
    """

    def __init__(self, batches, first_chunk):
        super().__init__()
        self.batches, self.first_chunk = batches, first_chunk
        self.steps_per_chunk = len(batches)
        self._chunk = None

    @property
    def num_batches(self):
        return None  # endless: `fit` gets steps_per_epoch

    def __getitem__(self, index):
        chunk = self.first_chunk + index // self.steps_per_chunk
        if hasattr(self.batches, "epoch"):
            self.batches.epoch = chunk + 1
        elif self._chunk is not None and chunk != self._chunk:
            self.batches.on_epoch_end()
        self._chunk = chunk
        return self.batches[index % self.steps_per_chunk]


def train_resumable(build_and_compile, batches, total_steps, run_dir, steps_per_chunk=200,
                    callbacks=(), verbose=1, is_chief=True):
    """Trains to `total_steps`, resuming from `run_dir` when it holds a checkpoint.

    Args:
        build_and_compile: () -> compiled CycleGAN, used for a fresh run.
        batches: a `keras.utils.PyDataset` whose epoch is one chunk (e.g.
            `UnpairedVideoDataset(..., steps_per_epoch=steps_per_chunk)`).
            If it has an `epoch` attribute it is set so a resumed run draws
            the batches the uninterrupted run would have drawn.
        total_steps: steps to train in all; the last chunk is cut short when they
            are not a whole number of chunks (its checkpoint holds `total_steps`).
        verbose: 1 shows progress by step over the whole run (`StepProgress`:
            a bar on a terminal, plain lines otherwise); 0 shows nothing.
        is_chief: False on the other hosts of a multi-host run: they resume from
            `run_dir` (a folder every host sees) but write nothing there.
    Returns:
        (model, progress dict)
    """
    if len(batches) != steps_per_chunk:
        raise ValueError(
            f"`batches` has {len(batches)} steps per epoch but steps_per_chunk is "
            f"{steps_per_chunk}; build the dataset with steps_per_epoch={steps_per_chunk}."
        )
    os.makedirs(run_dir, exist_ok=True)
    checkpoint, step = latest_checkpoint(run_dir)
    if checkpoint is not None and step:
        progress = read_progress(run_dir)
        model = keras.saving.load_model(checkpoint)
    else:
        progress = {"steps_done": 0, "train_seconds": 0.0, "history": {}}
        model = build_and_compile()
    if step % steps_per_chunk and step < total_steps:
        # A short last chunk ended that run; chunks after it would not line up with the batches drawn.
        raise ValueError(f"{checkpoint} holds step {step}, which is not a whole number of chunks of "
                         f"{steps_per_chunk} steps: it ended a run of {step} steps, or was trained with "
                         "another chunk size. Continue in a new run folder (or with that chunk size), or set "
                         f"the steps to a multiple of {steps_per_chunk} before a run you mean to extend.")
    chunks = -(-total_steps // steps_per_chunk)
    done = step // steps_per_chunk
    if step < total_steps:
        # Keras' bar counts epochs (= chunks here) and colours its text: show steps instead.
        display = StepProgress(total_steps, first_step=step) if verbose else None
        checkpoint = ChunkCheckpoint(run_dir, steps_per_chunk, progress, on_saved=display.checkpoint if display else None,
                                     is_chief=is_chief, total_steps=total_steps)
        model.fit(
            ChunkStream(batches, done),
            epochs=chunks,
            steps_per_epoch=steps_per_chunk,
            initial_epoch=done,
            shuffle=False,  # the sampler already randomizes; fit's shuffle would break resume
            callbacks=[checkpoint, *callbacks, *([display] if display else [])],
            verbose=0,
        )
    return model, progress
