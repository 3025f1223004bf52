"""Temporal consistency: frame-to-frame change of a video and relative to a reference."""

from __future__ import annotations

import numpy as np

from keras_v2v.evaluation.arrays import (
    as_unit_float,
    frame_step,
    reduce_values,
    video_batch,
)


def _flicker_values(video, name):
    v5, _ = video_batch(video, name)
    n, frames = v5.shape[:2]
    if frames < 2:
        raise ValueError(f"`{name}` needs at least 2 frames for flicker, got shape {v5.shape}.")
    step = frame_step(int(np.prod(v5.shape[2:])), overlap=1)
    out = np.zeros(n)
    for i in range(n):
        total = 0.0
        for lo in range(0, frames - 1, step - 1):
            v = as_unit_float(v5[i, lo : lo + step], name)
            total += np.abs(np.diff(v, axis=0)).mean(axis=(1, 2, 3)).sum()
        out[i] = total / (frames - 1)
    return out


def temporal_flicker(video, reduce=True):
    """Mean absolute frame-to-frame change, in [0, 1] units.

    ``flicker = (1/(T-1)) sum_{t=1}^{T-1} mean_{y,x,c} |o_t - o_{t-1}|`` with the
    video in [0, 1]. Range [0, 1]; 0 for a static video, 1 for a video that
    alternates between all-black and all-white frames. Needs ``T >= 2``.
    """
    return reduce_values(_flicker_values(video, "video"), reduce)


def relative_flicker(output, reference, reduce=True):
    """Flicker of ``output`` relative to a reference video (input or ground truth).

    Per video ``temporal_flicker(output) / temporal_flicker(reference)``; 1.0 =
    as smooth as the reference, > 1 = flickers more. ``0/0`` gives 1.0 and
    ``x/0`` (x > 0) gives ``inf``. The two may differ in size and channels
    (e.g. a greyscale input) but must have the same number of videos and
    frames.
    """
    o5, _ = video_batch(output, "output")
    r5, _ = video_batch(reference, "reference")
    if np.ndim(output) != np.ndim(reference) or o5.shape[:2] != r5.shape[:2]:
        raise ValueError(
            "`output` and `reference` must have the same number of videos and frames, "
            f"got output {np.shape(output)} and reference {np.shape(reference)}."
        )
    fo = _flicker_values(o5, "output")
    fr = _flicker_values(r5, "reference")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(fr > 0, fo / np.where(fr > 0, fr, 1.0), np.where(fo > 0, np.inf, 1.0))
    return reduce_values(ratio, reduce)
