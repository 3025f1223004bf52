"""What `keras-v2v train` shows and logs: steps over the whole run, plain text off a terminal,
TensorBoard scalars and sample images at the global step (also after a resume)."""

import io
import json
import os

import numpy as np
import pytest

from keras_v2v import cli
from keras_v2v.training import recipes
from keras_v2v.training.progress import StepProgress
from keras_v2v.training.run import sample_strip

RECIPE = """\
name = "tiny-display-3d"
task = "tiny-display"
method = "3d"

[dataset]
generator = "volumetric_mnist"
n = 6
depth = 8
size = 16
seed = 0

[model]
clip_length = 8
filters = 2
num_blocks = 1
discriminator_filters = 2
discriminator_layers = 2

[training]
steps = 4
chunk = 2
sample_every = 2
"""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _drive(progress, steps, checkpoint_at=()):
    progress.on_train_begin()
    for _ in range(steps):
        progress.on_train_batch_end(0, {"g_loss": np.float32(1.5), "d_loss": 0.25, "cycle_loss": 0.5, "x": "n/a"})
        if progress.step in checkpoint_at:
            progress.checkpoint(progress.step, f"run/checkpoint-{progress.step:07d}.keras")
    progress.on_train_end()


def test_plain_text_off_a_terminal_counts_steps_over_the_whole_run():
    stream = io.StringIO()
    _drive(StepProgress(10, first_step=4, stream=stream, every=2), 6, checkpoint_at=(6, 10))
    text = stream.getvalue()
    lines = text.splitlines()
    assert lines[0] == "resuming at step 4 of 10"
    assert [line.split()[1] for line in lines if line.startswith("step ")] == ["6/10", "8/10", "10/10"]
    assert "step 10/10 (100%)  g_loss 1.5  d_loss 0.25  cycle_loss 0.5" in text
    assert "checkpoint saved at step 6: run/checkpoint-0000006.keras" in lines
    assert "\r" not in text and "\x1b" not in text and "Epoch" not in text


def test_a_terminal_gets_one_redrawn_bar_and_the_checkpoints_on_their_own_lines():
    stream = Terminal()
    _drive(StepProgress(4, stream=stream), 4, checkpoint_at=(2, 4))
    text = stream.getvalue()
    assert text.count("\r[") >= 2 and "step 4/4 (100%)" in text and text.endswith("\n")
    assert "checkpoint saved at step 2" in text and "\x1b" not in text


def test_a_sample_strip_is_frames_as_rows_and_videos_side_by_side():
    grey = np.zeros((8, 16, 16, 1), np.uint8)
    colour = np.full((8, 16, 16, 3), 0.5, np.float32)
    image = sample_strip(grey, colour, grey, frames=4)
    assert image.dtype == np.uint8 and image.shape == (4 * 64, 3 * 64, 3)  # 16 px frames enlarged 4x
    assert image[0, 64:128].min() == image[0, 64:128].max() == 128


def _events(logs):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    found = {}
    for root, _, files in os.walk(logs):
        for name in files:
            if name.startswith("events.out.tfevents"):
                for event in EventFileLoader(os.path.join(root, name)).Load():
                    for value in event.summary.value:
                        found.setdefault(value.tag, set()).add(event.step)
    return found


def test_train_shows_steps_and_logs_tensorboard_at_the_global_step(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE)
    run = tmp_path / "run"
    base = ["train", str(recipe), "--run-dir", str(run), "--out", str(tmp_path / "preset"), "--no-evaluate"]
    assert cli.main(base + ["--set", "training.steps=2"]) == 0
    assert cli.main(base) == 0  # resumes at step 2
    out = capsys.readouterr().out
    assert "step 2/2 (100%)" in out and "resuming at step 2 of 4" in out and "step 4/4 (100%)" in out
    assert f"checkpoint saved at step 4: {run / 'checkpoint-0000004.keras'}" in out
    assert "Epoch" not in out and "\x1b" not in out and "\r" not in out  # capsys is not a terminal

    events = _events(run / "logs")
    # Scalars every min(10, chunk) = 2 steps, at the run's step, not the chunk index (0, 1).
    assert events["g_loss"] == events["d_loss"] == {2, 4}
    assert events["samples/input_a2b_cycle"] == {2, 4}
    assert sorted(os.listdir(run / "samples")) == ["step-0000002.gif", "step-0000004.gif"]


def test_train_stops_at_the_steps_asked_for_not_at_the_end_of_a_chunk(tmp_path, capsys):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE)
    run, out = tmp_path / "run", tmp_path / "preset"
    args = ["train", str(recipe), "--run-dir", str(run), "--out", str(out), "--no-evaluate",
            "--no-tensorboard", "--set", "training.steps=3"]  # chunk = 2
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "3 steps" in text and "step 3/3 (100%)" in text and "step 4/" not in text
    assert f"checkpoint saved at step 3: {run / 'checkpoint-0000003.keras'}" in text
    assert sorted(n for n in os.listdir(run) if n.startswith("checkpoint")) == ["checkpoint-0000003.keras"]
    with open(out / "keras_v2v.json") as handle:
        assert json.load(handle)["training"]["steps"] == 3
    assert cli.main(args) == 0  # a finished run stays finished
    assert "step 4" not in capsys.readouterr().out


def test_a_run_stopped_inside_a_chunk_logs_each_step_once_to_tensorboard(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from keras_v2v.training import resumable, run

    recipe = recipes.load_recipe(_write(tmp_path, RECIPE.replace("sample_every = 2", "sample_every = 0")))
    save = resumable.ChunkCheckpoint.on_epoch_end

    def stopped_at_step_4(self, epoch, logs=None):
        if epoch == 1:  # the scalars of step 4 are logged, then the run stops before its checkpoint
            raise KeyboardInterrupt
        save(self, epoch, logs)

    monkeypatch.setattr(resumable.ChunkCheckpoint, "on_epoch_end", stopped_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        run.train(recipe, str(tmp_path / "run"), verbose=0)
    monkeypatch.setattr(resumable.ChunkCheckpoint, "on_epoch_end", save)
    run.train(recipe, str(tmp_path / "run"), verbose=0)  # resumes at step 2
    assert _event_steps(tmp_path / "run" / "logs", "g_loss") == [2, 4]


def _write(folder, text):
    path = folder / "recipe.toml"
    path.write_text(text)
    return path


def _event_steps(logs, tag):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps = []
    for root, _, files in os.walk(logs):
        for name in sorted(files):
            if name.startswith("events.out.tfevents"):
                steps += [e.step for e in EventFileLoader(os.path.join(root, name)).Load()
                          for value in e.summary.value if value.tag == tag]
    return sorted(steps)
