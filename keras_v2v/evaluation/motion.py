"""Temporal metrics that stand on motion: warping error, tOF, and how output motion follows the input's.

Frame-to-frame difference alone rewards an output that does not move: a
blurred still image is perfectly "consistent". These metrics look at where
things move, with dense optical flow from OpenCV (Farneback; the optional
extra `keras-v2v[flow]`, `opencv-python-headless`):

- `warping_error` (Lai et al. 2018, "Learning Blind Video Temporal
  Consistency"): flow computed on the *input*, output frame t warped along it
  onto frame t+1, pixels occluded or disoccluded between the two (forward-
  backward check of Sundaram et al. 2010) left out; masked mean squared
  difference x 1e3 in [0, 1] units. Lower = more consistent *along the input's motion*.
  `unwarped_error` is the same without warping: an output whose error does not
  drop when warped (warping error >= unwarped error) is close to a still image.
- `tof` (TecoGAN, Chu et al. 2020): mean |flow(output) - flow(truth)| in
  pixels per frame, where a ground truth exists. Lower = moves like the truth.
- `motion_following`: per pixel, the correlation of the output's frame-to-frame
  change |o_t+1 - o_t| with the input's |x_t+1 - x_t|, and the ratio of their
  means. A frozen output has correlation nan/0 and ratio 0.

What they cannot see: warping error and tOF trust the flow, which is weak on
flat regions and tiny (64 px) frames; none of them judges per-frame quality
(a copy of the input warps perfectly): read them beside the task's
per-frame metric and beside the baselines in `keras_v2v.evaluation.baselines`.
"""

from __future__ import annotations

import numpy as np

from keras_v2v.utils.flow import opencv, dense_flow, grey_uint8, warp_frame, flow_pairs
from keras_v2v.evaluation.arrays import as_unit_float, reduce_values, video_batch

def _pair_errors(output, flows, masks, warp):
    cv2 = opencv()
    errors = []
    for t in range(len(flows)):
        previous = warp_frame(cv2, output[t], flows[t]) if warp else output[t]
        squared = ((output[t + 1] - previous) ** 2).mean(-1)
        visible = masks[t]
        errors.append(squared[visible].mean() if visible.any() else np.nan)
    return np.array(errors)


def _per_video(output, reference, name_out, name_ref, fn):
    o5, _ = video_batch(output, name_out)
    r5, _ = video_batch(reference, name_ref)
    if o5.shape[:4] != r5.shape[:4]:
        raise ValueError(f"`{name_out}` and `{name_ref}` must have the same videos, frames and frame size, "
                         f"got {np.shape(output)} and {np.shape(reference)}.")
    if o5.shape[1] < 2:
        raise ValueError(f"motion metrics need at least 2 frames, got shape {np.shape(output)}.")
    return np.array([fn(as_unit_float(o, name_out), r) for o, r in zip(o5, r5)], dtype=np.float64)


def _masked_error(warp):
    def one(o, x):
        with np.errstate(invalid="ignore"):
            return float(np.nanmean(_pair_errors(o, *flow_pairs(x), warp=warp))) * 1e3
    return one


def warping_error(output, input_video, reduce=True):
    """Lai et al.'s warping error of `output` along the flow of `input_video` (x 1e3, [0, 1] units).

    Both are (T, H, W, C) or (N, T, H, W, C) with the same T, H, W; channels may differ.
    """
    return reduce_values(_per_video(output, input_video, "output", "input_video", _masked_error(True)), reduce)


def unwarped_error(output, input_video, reduce=True):
    """`warping_error` without the warp (same visibility mask): how much the output changes at all."""
    return reduce_values(_per_video(output, input_video, "output", "input_video", _masked_error(False)), reduce)


def tof(output, truth, reduce=True):
    """TecoGAN's tOF: mean |flow(output) - flow(truth)| over pixels and frame pairs, in pixels."""
    cv2 = opencv()

    def one(o, g):
        g = as_unit_float(g, "truth")
        go, gg = [grey_uint8(f) for f in o], [grey_uint8(f) for f in g]
        diffs = [np.abs(dense_flow(cv2, go[t], go[t + 1]) - dense_flow(cv2, gg[t], gg[t + 1])).mean()
                 for t in range(len(go) - 1)]
        return float(np.mean(diffs))

    return reduce_values(_per_video(output, truth, "output", "truth", one), reduce)


def _changes(video):
    return np.abs(np.diff(video, axis=0)).mean(-1)


def motion_correlation(output, input_video, reduce=True):
    """Per pixel and frame pair, correlation of |output change| with |input change|.

    0 for a still output, nan for a still input (nothing to follow).
    """
    def one(o, x):
        a, b = _changes(o).ravel(), _changes(as_unit_float(x, "input_video")).ravel()
        if b.std() == 0:
            return np.nan
        # An output that does not change while the input does follows none of its motion.
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 else 0.0

    return reduce_values(_per_video(output, input_video, "output", "input_video", one), reduce)


def motion_ratio(output, input_video, reduce=True):
    """Mean |output change| over mean |input change|: 0 for a frozen output; nan for a still input."""
    def one(o, x):
        moved = _changes(as_unit_float(x, "input_video")).mean()
        return float(_changes(o).mean() / moved) if moved > 0 else np.nan

    return reduce_values(_per_video(output, input_video, "output", "input_video", one), reduce)


def evaluate_motion(output, input_video, truth=None):
    """Every motion metric of `output` (the translation of `input_video`), as a JSON-ready dict.

    Keys: warping_error, unwarped_error, motion_corr, motion_ratio, and tof when `truth` is given.
    Flow is computed once per input video and shared by the two errors.
    """
    def both(o, x):
        flows = flow_pairs(x)
        with np.errstate(invalid="ignore"):
            return [np.nanmean(_pair_errors(o, *flows, warp=w)) * 1e3 for w in (True, False)]

    errors = _per_video(output, input_video, "output", "input_video", both)
    result = {
        "warping_error": reduce_values(errors[:, 0], True),
        "unwarped_error": reduce_values(errors[:, 1], True),
        "motion_corr": motion_correlation(output, input_video),
        "motion_ratio": motion_ratio(output, input_video),
    }
    if truth is not None:
        result["tof"] = tof(output, truth)
    return result
