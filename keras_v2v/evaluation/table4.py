"""Table 4 (video -> segmentation): pixel accuracy and class-transition matrices."""

from __future__ import annotations

import numpy as np

from keras_v2v.evaluation.arrays import (
    as_unit_float,
    class_batch,
    numeric_array,
    reduce_values,
    same_shape,
    video_batch,
)


def _check_palette(palette, channels):
    p = numeric_array(palette, "palette")
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] != channels:
        raise ValueError(
            f"`palette` must be (num_classes, {channels}) colours in 0-255, got shape {p.shape}."
        )
    if p.min() < 0 or p.max() > 255:
        raise ValueError(
            f"`palette` colours must be in 0-255, got values in [{p.min()}, {p.max()}]."
        )
    return p


def rgb_to_class_ids(rgb, palette, chunk_pixels=1 << 16):
    """Class id of the nearest palette colour for every pixel (vectorised, chunked).

    ``ids[...] = argmin_k || rgb255[..., :] - palette[k] ||_2`` with ``rgb`` in
    0-255 units (uint8 as is; floats in [0, 1] are scaled by 255) and ``palette``
    a ``(K, C)`` array of 0-255 colours (e.g. ``street.CLASS_COLOURS``). Ties go
    to the lowest class id. ``rgb`` is ``(..., C)``; returns ``(...)`` uint8
    (int32 when K > 256). Works through ``chunk_pixels`` pixels at a time, so
    memory stays bounded (~``chunk_pixels * K`` floats) for long videos.
    """
    rgb = numeric_array(rgb, "rgb")
    if rgb.ndim < 1:
        raise ValueError(f"`rgb` must have a channel axis, got shape {rgb.shape}.")
    pal = _check_palette(palette, rgb.shape[-1])
    k = len(pal)
    flat = rgb.reshape(-1, rgb.shape[-1])
    out = np.empty(len(flat), np.uint8 if k <= 256 else np.int32)
    exact_int = rgb.dtype == np.uint8
    # uint8 pixels and 0-255 integer palettes: float32 products/sums stay below
    # 2**24 for C <= 3, so the float32 matmul is exact.
    dt = np.float32 if exact_int and rgb.shape[-1] <= 3 else np.float64
    palf = pal.astype(dt)
    pal_sq = (palf * palf).sum(axis=1)
    chunk_pixels = max(1, int(chunk_pixels))
    for lo in range(0, len(flat), chunk_pixels):
        c = flat[lo : lo + chunk_pixels]
        x = c.astype(dt) if exact_int else (as_unit_float(c, "rgb") * 255.0).astype(dt)
        # ||x - p||^2 = ||x||^2 - 2 x.p + ||p||^2; ||x||^2 does not change the argmin.
        out[lo : lo + chunk_pixels] = np.argmin(pal_sq[None, :] - 2.0 * (x @ palf.T), axis=1)
    return out.reshape(rgb.shape[:-1])


def majority_filter(class_video, size, num_classes=None):
    """Label denoising: ``size x size`` majority (mode) filter of each frame.

    ``out[t, y, x] = argmax_k #{(y', x') in window(y, x) : labels[t, y', x'] = k}``
    over the ``size x size`` window centred on the pixel, truncated at the
    image border (only pixels inside the frame vote). Ties keep the pixel's own
    label when it is among the most frequent, else take the lowest class id.
    Frames are filtered independently (no temporal smoothing). ``size`` 0 or
    1 returns the labels unchanged; otherwise it must be odd. Exact integer
    counting through per-class integral images (numpy only), one class at a
    time, so memory is O(T*H*W). ``class_video``: ``(T, H, W)`` or
    ``(N, T, H, W)`` non-negative ints; ``num_classes`` defaults to ``max + 1``.
    """
    size = int(size)
    x = class_batch(class_video, "class_video")
    single = np.ndim(class_video) == 3
    if size < 0 or (size > 1 and size % 2 == 0):
        raise ValueError(f"`size` must be 0, 1 or an odd window size >= 3, got {size}.")
    if x.min() < 0:
        raise ValueError(f"`class_video` ids must be >= 0, got min {x.min()}.")
    if size <= 1:
        out = x.copy()
        return out[0] if single else out
    k = int(x.max()) + 1 if num_classes is None else int(num_classes)
    if x.max() >= k:
        raise ValueError(f"`class_video` ids must be < num_classes={k}, got max {x.max()}.")
    r = size // 2
    n, frames, h, w = x.shape
    out = np.empty_like(x)
    for i in range(n):
        labels = x[i]
        best = np.full((frames, h, w), -1, np.int64)
        best_k = np.zeros((frames, h, w), x.dtype)
        integral = np.zeros((frames, h + 2 * r + 1, w + 2 * r + 1), np.int64)
        for cls in range(k):
            hit = labels == cls
            if not hit.any():
                continue
            integral[:, 1:, 1:] = np.pad(hit, ((0, 0), (r, r), (r, r))).cumsum(1).cumsum(2)
            count = (
                integral[:, size:, size:]
                - integral[:, :-size, size:]
                - integral[:, size:, :-size]
                + integral[:, :-size, :-size]
            )
            # Twice the count, plus one for the pixel's own class: ties favour
            # the current label but never beat a strictly larger count.
            score = 2 * count + hit
            better = score > best
            best[better] = score[better]
            best_k[better] = cls
        out[i] = best_k
    return out[0] if single else out


def _truth_classes(truth, pred_shape, palette, name="truth_class_maps"):
    """Ground truth as class ids shaped ``pred_shape[:-1]`` (RGB truth is decoded)."""
    t = numeric_array(truth, name)
    if t.shape == tuple(pred_shape):
        return rgb_to_class_ids(t, palette)
    if t.shape != tuple(pred_shape[:-1]):
        raise ValueError(
            f"`{name}` must be class maps shaped like the prediction without its channel "
            f"axis (or RGB shaped like it), got pred_rgb {tuple(pred_shape)} and {name} {t.shape}."
        )
    return t


def class_accuracy(pred_classes, truth_classes, reduce=True):
    """Fraction of pixels whose predicted class id equals the ground truth, per video.

    ``acc = mean_{t,y,x} [pred[t,y,x] == truth[t,y,x]]``. Range [0, 1]; 1 = perfect.
    With equal frame sizes the per-video value is also the mean of the
    per-frame accuracies (the paper's "per-frame pixel accuracy").
    """
    p = class_batch(pred_classes, "pred_classes")
    t = class_batch(truth_classes, "truth_classes")
    same_shape(pred_classes, truth_classes, "pred_classes", "truth_classes")
    return reduce_values((p == t).reshape(len(p), -1).mean(axis=1), reduce)


def pixel_accuracy(pred_rgb, truth_class_maps, palette, denoise=0, reduce=True):
    """Table 4 pixel accuracy of a generated segmentation video.

    1. ``ids = rgb_to_class_ids(pred_rgb, palette)`` (nearest palette colour);
    2. if ``denoise = k >= 3``: ``ids = majority_filter(ids, k)`` per frame
       (the paper's "label denoising levels"; 0 = none);
    3. ``acc = mean_{t,y,x} [ids == truth]`` per video.

    ``pred_rgb``: ``(T, H, W, 3)`` / ``(N, T, H, W, 3)``; ``truth_class_maps``:
    integer ids shaped ``pred_rgb.shape[:-1]`` (or RGB shaped like ``pred_rgb``,
    decoded with the same palette). Range [0, 1].
    """
    video_batch(pred_rgb, "pred_rgb")
    truth = _truth_classes(truth_class_maps, np.shape(pred_rgb), palette)
    ids = rgb_to_class_ids(pred_rgb, palette)
    ids = majority_filter(ids, denoise, num_classes=len(np.asarray(palette)))
    return class_accuracy(ids, truth, reduce=reduce)


def _transition_counts(class_video, num_classes, name):
    x = class_batch(class_video, name)
    k = int(num_classes)
    if k < 1:
        raise ValueError(f"`num_classes` must be >= 1, got {num_classes}.")
    if x.shape[1] < 2:
        raise ValueError(
            f"`{name}` needs at least 2 frames for transitions, got shape {np.shape(class_video)}."
        )
    if x.min() < 0 or x.max() >= k:
        raise ValueError(
            f"`{name}` ids must be in [0, {k - 1}], got values in [{x.min()}, {x.max()}]."
        )
    counts = np.empty((len(x), k, k), np.int64)
    for i in range(len(x)):
        a = x[i, :-1].astype(np.int64).ravel()
        b = x[i, 1:].astype(np.int64).ravel()
        counts[i] = np.bincount(a * k + b, minlength=k * k).reshape(k, k)
    return counts


def _normalise_rows(counts, empty_row):
    if empty_row not in ("zeros", "identity"):
        raise ValueError(f"`empty_row` must be 'zeros' or 'identity', got {empty_row!r}.")
    counts = np.asarray(counts, np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    out = counts / np.where(totals > 0, totals, 1.0)
    if empty_row == "identity":
        k = counts.shape[-1]
        empty = totals[..., 0] == 0
        out[empty] = np.broadcast_to(np.eye(k), counts.shape)[empty]
    return out


def class_transition_matrix(class_video, num_classes, empty_row="zeros", reduce=True):
    """Row-stochastic matrix of pixel class transitions between consecutive frames.

    ``P[i, j] = #{(t, p) : c_t(p) = i, c_{t+1}(p) = j} / #{(t, p) : c_t(p) = i}``
    over every pixel ``p`` and consecutive frame pair ``(t, t+1)`` of a video.
    A batch is **pooled**: counts are summed over all videos (pairs never span
    two videos) before normalising, because single short clips leave many
    rows empty; ``reduce=False`` returns the per-video matrices ``(N, K, K)``.
    A class that never occurs in frames ``0..T-2`` has an empty row: all
    zeros with ``empty_row="zeros"`` (default; so predicting a class absent
    from the ground truth is penalised by :func:`transition_matrix_l2`), or
    the identity row with ``empty_row="identity"``. Entries in [0, 1];
    non-empty rows sum to 1. ``class_video``: ``(T, H, W)`` / ``(N, T, H, W)``
    ids in ``[0, num_classes)``, ``T >= 2``.
    """
    counts = _transition_counts(class_video, num_classes, "class_video")
    if reduce:
        return _normalise_rows(counts.sum(axis=0), empty_row)
    return _normalise_rows(counts, empty_row)


def transition_matrix_l2(pred_classes, truth_classes, num_classes, empty_row="zeros", reduce=True):
    """Table 4 "L2 distance between stochastic matrices of pixel class transitions".

    ``|| P_pred - P_truth ||_F = sqrt(sum_{i,j} (P_pred[i,j] - P_truth[i,j])**2)``
    with ``P`` from :func:`class_transition_matrix` (pooled over the batch when
    ``reduce=True``; ``reduce=False`` gives one norm per video from per-video
    matrices). Range [0, sqrt(2 K)]; 0 = same temporal class dynamics.
    """
    same_shape(pred_classes, truth_classes, "pred_classes", "truth_classes")
    cp = _transition_counts(pred_classes, num_classes, "pred_classes")
    ct = _transition_counts(truth_classes, num_classes, "truth_classes")
    if reduce:
        d = _normalise_rows(cp.sum(0), empty_row) - _normalise_rows(ct.sum(0), empty_row)
        return float(np.sqrt((d * d).sum()))
    d = _normalise_rows(cp, empty_row) - _normalise_rows(ct, empty_row)
    return np.sqrt((d * d).sum(axis=(1, 2)))



def evaluate_table4(pred_rgb, truth_classes, palette, denoise_levels=(0, 3, 5), empty_row="zeros"):
    """Table 4 (video -> segmentation) metrics at several label denoising levels.

    ``pred_rgb``: generated segmentation videos ``(T, H, W, 3)`` /
    ``(N, T, H, W, 3)``; ``truth_classes``: ground-truth ids shaped
    ``pred_rgb.shape[:-1]`` (or palette-coloured RGB shaped like ``pred_rgb``);
    ``palette``: ``(K, 3)`` 0-255 class colours (e.g. ``street.CLASS_COLOURS``).
    The prediction is decoded once (:func:`rgb_to_class_ids`), then for each
    ``k`` in ``denoise_levels`` majority-filtered (:func:`majority_filter`;
    the ground truth is not filtered). Returns plain floats:

    - ``pixel_accuracy_denoise{k}``: :func:`class_accuracy` (mean over videos);
    - ``transition_l2_denoise{k}``: :func:`transition_matrix_l2` (pooled), when ``T >= 2``;
    - ``pixel_accuracy`` / ``transition_l2``: the values at the first level.

    The paper reports accuracy on the "Slow" (walking) subset and the whole
    test set ("All-Test"): call this once per subset.
    """
    p5, _ = video_batch(pred_rgb, "pred_rgb")
    truth = _truth_classes(truth_classes, np.shape(pred_rgb), palette, name="truth_classes")
    k = len(_check_palette(palette, p5.shape[-1]))
    levels = [int(d) for d in denoise_levels]
    if not levels:
        raise ValueError("`denoise_levels` must name at least one level, e.g. (0,).")
    ids = rgb_to_class_ids(pred_rgb, palette)
    out = {}
    for d in levels:
        den = majority_filter(ids, d, num_classes=k)
        out[f"pixel_accuracy_denoise{d}"] = class_accuracy(den, truth)
        if p5.shape[1] >= 2:
            out[f"transition_l2_denoise{d}"] = transition_matrix_l2(
                den, truth, k, empty_row=empty_row
            )
    out["pixel_accuracy"] = out[f"pixel_accuracy_denoise{levels[0]}"]
    if p5.shape[1] >= 2:
        out["transition_l2"] = out[f"transition_l2_denoise{levels[0]}"]
    return {key: float(v) for key, v in out.items()}
