"""Resumable training: checkpoint every chunk of steps, continue after a stop.

A run folder holds `checkpoint.keras` (the whole CycleGAN: weights,
optimizer state, history pools) and `progress.json` (steps done, loss
history). Both are written atomically, so an interrupted run restarts
from its last complete chunk and never from a half-written file.
"""

import json
import os
import shutil
import tempfile
import time

import keras

CHECKPOINT = "checkpoint.keras"
PROGRESS = "progress.json"


def _write_json_atomically(path, payload):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(payload, handle, indent=2)
    os.replace(tmp, path)


def read_progress(run_dir):
    path = os.path.join(run_dir, PROGRESS)
    if not os.path.exists(path):
        return {"steps_done": 0, "train_seconds": 0.0, "history": {}}
    with open(path) as handle:
        return json.load(handle)


class ChunkCheckpoint(keras.callbacks.Callback):
    """Saves the model and the progress record at the end of every epoch (= chunk).

    With several hosts every host saves (reading distributed variables may need all
    of them) but only the chief writes into `run_dir`; the others write a scratch folder.
    """

    def __init__(self, run_dir, steps_per_chunk, progress, is_chief=True):
        super().__init__()
        self.run_dir = run_dir
        self.steps_per_chunk = steps_per_chunk
        self.progress = progress
        self.is_chief = is_chief

    def on_train_begin(self, logs=None):
        self.folder = self.run_dir if self.is_chief else tempfile.mkdtemp(prefix="keras-v2v-worker-")

    def on_train_end(self, logs=None):
        if not self.is_chief:
            shutil.rmtree(self.folder, ignore_errors=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self.progress["train_seconds"] = self.progress.get("train_seconds", 0.0) + time.time() - self._started
        tmp = os.path.join(self.folder, f".tmp-{CHECKPOINT}")
        self.model.save(tmp)
        os.replace(tmp, os.path.join(self.folder, CHECKPOINT))
        self.progress["steps_done"] = (epoch + 1) * self.steps_per_chunk
        for name, value in (logs or {}).items():
            self.progress["history"].setdefault(name, []).append(float(value))
        _write_json_atomically(os.path.join(self.folder, PROGRESS), self.progress)


def train_resumable(build_and_compile, batches, total_steps, run_dir, steps_per_chunk=200,
                    callbacks=(), verbose=1, is_chief=True):
    """Trains to `total_steps`, resuming from `run_dir` when it holds a checkpoint.

    Args:
        build_and_compile: () -> compiled CycleGAN, used for a fresh run.
        batches: a `keras.utils.PyDataset` whose epoch is one chunk (e.g.
            `UnpairedVideoDataset(..., steps_per_epoch=steps_per_chunk)`).
            If it has an `epoch` attribute it is set so a resumed run draws
            the batches the uninterrupted run would have drawn.
        total_steps: steps to train in all (rounded up to whole chunks).
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
    progress = read_progress(run_dir)
    checkpoint = os.path.join(run_dir, CHECKPOINT)
    if progress["steps_done"] and os.path.exists(checkpoint):
        model = keras.saving.load_model(checkpoint)
    else:
        progress = {"steps_done": 0, "train_seconds": 0.0, "history": {}}
        model = build_and_compile()
    chunks = -(-total_steps // steps_per_chunk)
    done = progress["steps_done"] // steps_per_chunk
    if done < chunks:
        if hasattr(batches, "epoch"):
            # Keras calls on_epoch_end once before training, which adds one.
            batches.epoch = done
        model.fit(
            batches,
            epochs=chunks,
            initial_epoch=done,
            shuffle=False,  # the sampler already randomizes; fit's shuffle would break resume
            callbacks=[ChunkCheckpoint(run_dir, steps_per_chunk, progress, is_chief), *callbacks],
            verbose=verbose,
        )
    return model, progress
