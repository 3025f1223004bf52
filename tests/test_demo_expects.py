"""The demo's first screen says what each preset was trained on; unlike uploads are warned about, not refused."""

import os

import numpy as np

from keras_v2v import data
from keras_v2v.demo import core, expects

MEDIA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "media")


def _camera_like(frames=8, height=64, width=112):
    """Smooth colour gradients with noise: what a phone video looks like to a colour histogram."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([np.stack([np.clip(100 + 50 * np.sin(xx / 7 + t), 0, 255), np.clip(120 + 40 * np.cos(yy / 5), 0, 255),
                               np.clip(80 + rng.normal(0, 30, xx.shape), 0, 255)], -1)
                     for t in range(frames)]).astype(np.uint8)


def test_the_first_screen_has_one_sentence_per_preset_and_says_the_data_is_synthetic():
    table = core.bundled_presets()
    text = expects.first_screen(table.values())
    assert "synthetic data" in text and "warns" in text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == len(table)
    for line, preset in zip(lines, table.values()):
        assert line.startswith(f"- `{preset.name}`: trained on ") and line.count(". ") == 0, line


def test_a_camera_like_upload_is_warned_about_and_still_translated(tmp_path):
    table = core.resolve_presets({n: p for n, p in core.bundled_presets().items() if n == "street-seg2rgb-2d-random"})
    preset = table["street-seg2rgb-2d-random"]
    camera = tmp_path / "camera.mp4"
    data.write_video(str(camera), _camera_like(), fps=8)
    result = core.translate_clip(str(camera), preset.name, presets=table, out_dir=str(tmp_path / "out"))
    assert result.frames == 8
    warned = [n for n in result.notices if "looks unlike what street-seg2rgb-2d-random was trained on" in n]
    assert len(warned) == 1 and "translated anyway" in warned[0] and "synthetic street scenes" in warned[0]
    # Its own held-out sample and a hand-drawn map of the same kind are not warned about.
    for clip in (os.path.join(MEDIA, "handmade_street_seg.mp4"), preset.sample_clip):
        result = core.translate_clip(clip, preset.name, presets=table, out_dir=str(tmp_path / "out"))
        assert not [n for n in result.notices if "looks unlike" in n], clip
    # Sizes are written as `keras-v2v list` writes shapes: height first.
    assert "frames of 64x112 px (height x width)" in result.summary
