"""examples/finetune.py end to end: a tiny preset, two folders of generated mp4s, a few steps."""

import os
import re
import subprocess
import sys

import numpy as np

import keras_v2v as v2v
from keras_v2v import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "finetune.py")


def write_clips(folder, rng, count, frames, height, width, colour):
    folder.mkdir()
    for k in range(count):
        video = rng.integers(0, 60, (frames, height, width, 3), dtype=np.uint8)
        video[:, :, : width // 2] += np.array(colour, np.uint8)  # a domain's tint
        data.write_video(str(folder / f"clip{k}.mp4"), video, fps=8)
    return str(folder)


def test_finetune_example_trains_saves_and_reloads(tmp_path):
    rng = np.random.default_rng(0)
    tiny = dict(filters=2, num_blocks=1, discriminator_filters=2, discriminator_layers=2)
    # Grey A, RGB B: the RGB clips of folder A are converted to grey for it.
    preset = v2v.cyclegan_3d(input_shape=(4, 24, 24, 1), channels_b=3, **tiny)
    preset_dir = preset.save_pretrained(tmp_path / "preset")
    # Clips of another size than the preset's (they are resized) and of two lengths.
    videos_a = write_clips(tmp_path / "a", rng, 2, 7, 30, 40, (150, 0, 0))
    videos_b = write_clips(tmp_path / "b", rng, 3, 5, 36, 36, (0, 0, 150))
    out = tmp_path / "finetuned"
    # A user's environment: no TF_CPP_MIN_LOG_LEVEL (the example keeps TensorFlow's C++ errors off stderr).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "tensorflow")
    result = subprocess.run(
        [sys.executable, SCRIPT, "--preset", preset_dir, "--videos-a", videos_a, "--videos-b", videos_b,
         "--steps", "3", "--batch-size", "2", "--out", str(out), "--run-eagerly"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "trained 3 steps" in result.stdout and "differs by at most" in result.stdout
    assert not re.search(r"^[EWF]\d{4} |remapper failed", result.stderr, re.M), result.stderr[-3000:]

    tuned, original = v2v.from_pretrained(str(out)), v2v.from_pretrained(preset_dir)
    assert tuned.sample_shape == original.sample_shape and tuned.channels_b == original.channels_b
    changed = [
        not np.allclose(a, b)
        for a, b in zip(tuned.generator_a2b.get_weights(), original.generator_a2b.get_weights())
    ]
    assert any(changed), "fine-tuning left the generator's weights unchanged"
