"""What a training run shows and logs, counted in steps over the whole run.

`train_resumable` fits one checkpoint chunk per Keras epoch, so Keras' own
progress bar says "Epoch 3/15" and its TensorBoard callback logs by chunk
index. These callbacks count global training steps instead (a resumed run
continues from the checkpoint's step): `StepProgress` prints a bar on a
terminal and plain lines (no carriage returns, no ANSI codes) in a log file;
a saved checkpoint is one line in either. `StepTensorBoard` writes scalars
and sample images at the global step.
"""

import os
import sys
import time

import keras
import numpy as np

SHOWN = ("g_loss", "d_loss", "cycle_loss")  # the losses a progress line shows (TensorBoard gets all)


def _duration(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s")


def _floats(logs):
    out = {}
    for name, value in (logs or {}).items():
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class StepProgress(keras.callbacks.Callback):
    """Training progress by step, over the whole run.

    Kept ours: keras.utils.Progbar counts one epoch (a chunk here) and prints nothing off a
    terminal until it ends; tqdm writes carriage returns into log files. Neither writes the
    plain step lines with checkpoints between them that a log of a resumable run needs.

    Args:
        total_steps: steps of the whole run (not of a chunk).
        first_step: the step the run starts (or resumes) from.
        stream: where to write (default stdout).
        interactive: a redrawn bar (True) or plain lines (False); default:
            whether `stream` is a terminal.
        every: plain-text mode writes a line every `every` steps (default:
            about 20 lines per run) and at the last step.
    """

    def __init__(self, total_steps, first_step=0, stream=None, interactive=None, every=None):
        super().__init__()
        self.total = int(total_steps)
        self.step = int(first_step)
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty()) if interactive is None else bool(interactive)
        self.every = int(every or max(1, self.total // 20))
        self._logs = {}
        self._began = self._began_step = self._first_done = None
        self._drawn = 0.0
        self._bar_open = False

    def _write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def _line(self, text):
        # On a terminal, a message replaces the bar; the bar is redrawn below it.
        if self._bar_open:
            self._write("\r" + " " * 100 + "\r")
            self._bar_open = False
        self._write(text + "\n")

    def _status(self):
        done = self.step - self._began_step
        parts = [f"step {self.step}/{self.total} ({100 * self.step / max(self.total, 1):.0f}%)"]
        parts += [f"{name} {self._logs[name]:.4g}" for name in SHOWN if name in self._logs]
        if done > 1:
            # Timed from the end of the first step, whose time is mostly tracing the train step.
            per_step = (time.monotonic() - self._first_done) / (done - 1)
            parts.append(f"{per_step:.2f} s/step")
            if self.step < self.total:
                parts.append(f"ETA {_duration(per_step * (self.total - self.step))}")
        return "  ".join(parts)

    def on_train_begin(self, logs=None):
        self._began, self._began_step = time.monotonic(), self.step
        if self.step:
            self._line(f"resuming at step {self.step} of {self.total}")

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step == self._began_step + 1:
            self._first_done = time.monotonic()
        self._logs = _floats(logs) or self._logs
        last = self.step >= self.total
        if self.interactive:
            now = time.monotonic()
            if last or now - self._drawn >= 0.2:  # redraws are cheap but not free
                self._drawn = now
                width = 24
                filled = int(width * self.step / max(self.total, 1))
                self._write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self._status()}   ")
                self._bar_open = True
        elif last or self.step % self.every == 0:
            self._line(self._status())

    def checkpoint(self, step, path):
        """Called by the checkpoint callback after it saved `path` at `step`."""
        self._line(f"checkpoint saved at step {step}: {path}")

    def on_train_end(self, logs=None):
        if self._bar_open:
            self._write("\n")
            self._bar_open = False


class StepTensorBoard(keras.callbacks.Callback):
    """TensorBoard scalars every `every` steps and images on request, at the global step.

    Needs TensorFlow's summary writer (any Keras backend). Scalars go to
    `log_dir/train`, like Keras' own TensorBoard callback. What a chunk logs is
    held back until its checkpoint is saved (the checkpoint callback runs
    before this one): a run stopped inside a chunk resumes from the previous
    checkpoint and logs those steps again, so written early they would appear twice.
    """

    def __init__(self, log_dir, first_step=0, every=10):
        super().__init__()
        import tensorflow as tf

        self._tf = tf
        self.step = int(first_step)
        self.every = max(1, int(every))
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
        self._pending = []  # (step, kind, name, value) of the chunk in progress

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.every == 0:
            self.scalars(_floats(logs), self.step)

    def scalars(self, values, step):
        self._pending += [(int(step), "scalar", name, value) for name, value in values.items()]

    def image(self, name, image, step):
        """`image`: (H, W, 3) uint8."""
        self._pending.append((int(step), "image", name, np.asarray(image, np.uint8)[None]))

    def _write_pending(self):
        for step, kind, name, value in self._pending:
            with self.writer.as_default(step=step):
                if kind == "scalar":
                    self._tf.summary.scalar(name, value)
                else:
                    self._tf.summary.image(name, value, max_outputs=1)
        self._pending = []
        self.writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        self._write_pending()

    def on_train_end(self, logs=None):
        self.writer.flush()
