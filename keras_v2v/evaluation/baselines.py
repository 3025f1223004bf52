"""Trivial translators every temporal and per-frame number is read beside.

A metric means something only next to what no learning achieves: a copy of
the input (where the domains allow), a still image (perfectly "consistent",
follows no motion), and, for video -> segmentation, each pixel's most common
training class (right where the scene does not move, never follows it).
"""

from __future__ import annotations

import numpy as np

from keras_v2v.evaluation.arrays import video_batch
from keras_v2v.evaluation.table4 import rgb_to_class_ids


def frozen_first_frame(videos):
    """Each video's first frame repeated over its length: no motion at all."""
    v5, single = video_batch(videos, "videos")
    out = np.repeat(v5[:, :1], v5.shape[1], axis=1)
    return out[0] if single else out


def copy_input(videos, channels):
    """The input itself as the translation, with grey <-> RGB conversion to `channels`."""
    v5, single = video_batch(videos, "videos")
    if v5.shape[-1] == channels:
        out = v5
    elif channels == 1:
        out = np.rint(v5[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114]))[..., None]
        out = out.astype(v5.dtype)
    else:
        out = np.repeat(v5[..., :1], channels, axis=-1)
    return out[0] if single else out


def class_prior(training_segmentations, palette):
    """(H, W) class ids: each pixel's most common class over every frame of the training clips."""
    ids = rgb_to_class_ids(np.asarray(training_segmentations), palette)
    ids = ids.reshape((-1,) + ids.shape[-2:])
    counts = np.stack([(ids == c).sum(axis=0) for c in range(len(palette))])
    return counts.argmax(axis=0)


def class_prior_videos(prior, palette, count, frames):
    """The prior, coloured with `palette`, as `count` still videos of `frames` frames (uint8)."""
    image = np.asarray(palette, np.uint8)[prior]
    return np.broadcast_to(image, (count, frames) + image.shape).copy()
