"""Hand-computed checks of keras_v2v.metrics (paper Tables 1, 2, 4 and temporal metrics).

Every expected value is worked out in the comment next to it from arrays small
enough to read.
"""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_v2v import evaluation as M

RED = (255, 0, 0)
GREEN = (0, 255, 0)


def frames_of(*colours, h=1, w=1):
    """A uint8 video (T, h, w, 3) whose frame t is filled with colours[t]."""
    return np.array([np.broadcast_to(np.array(c, np.uint8), (h, w, 3)) for c in colours], np.uint8)


# --------------------------------------------------------------------------- conventions


def test_module_is_pure_numpy():
    # Load metrics.py on its own (not through the keras_v2v package, whose
    # __init__ builds models): it must not pull in keras, tensorflow or scipy.
    path = os.path.join(os.path.dirname(__file__), os.pardir, "keras_v2v", "metrics.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('m', {os.path.abspath(path)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "bad = [k for k in ('keras', 'tensorflow', 'scipy', 'jax', 'torch') if k in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_as_unit_float_conversions_and_range_errors():
    # uint8 255 -> 1.0, 51 -> 0.2; bool -> 0/1; floats unchanged.
    np.testing.assert_allclose(M.as_unit_float(np.array([0, 51, 255], np.uint8)), [0, 0.2, 1])
    np.testing.assert_allclose(M.as_unit_float(np.array([True, False])), [1, 0])
    np.testing.assert_allclose(M.as_unit_float(np.array([0.25], np.float32)), [0.25])
    with pytest.raises(ValueError, match=r"float `x` must be in \[0, 1\]"):
        M.as_unit_float(np.array([0.0, 2.0]), "x")
    with pytest.raises(ValueError, match="0-255"):
        M.as_unit_float(np.array([0, 300], np.int16), "x")
    with pytest.raises(ValueError, match="numeric"):
        M.as_unit_float(np.array(["a"]), "x")


def test_summary_mean_and_population_std():
    # values 1, 3: mean 2, population std 1, sample std sqrt(2); nan ignored.
    assert M.summary([1.0, 3.0, np.nan]) == {"mean": 2.0, "std": 1.0}
    assert M.summary([1.0, 3.0], ddof=1)["std"] == pytest.approx(math.sqrt(2))
    assert all(math.isnan(v) for v in M.summary([np.nan]).values())


# --------------------------------------------------------------------------- Table 2


def _one_voxel_off():
    # Video T=2, H=1, W=2, C=1: one of 4 voxels differs by 255 (= 1.0 in [0, 1]).
    pred = np.zeros((2, 1, 2, 1), np.uint8)
    pred[0, 0, 1, 0] = 255
    return pred, np.zeros_like(pred)


def test_table2_l2_definitions_by_hand():
    pred, truth = _one_voxel_off()
    # mse = (1^2 + 0 + 0 + 0) / 4 = 0.25
    assert M.mse(pred, truth) == pytest.approx(0.25)
    # l2_norm = sqrt(1) = 1 (Euclidean norm over the volume, [0, 1] units)
    assert M.l2_norm(pred, truth) == pytest.approx(1.0)
    # L = 255 * sqrt(0.25) = 127.5 (RMSE in 0-255 units)
    assert M.l2_to_ground_truth(pred, truth) == pytest.approx(127.5)
    # Float input in [0, 1] gives the same numbers as uint8.
    assert M.l2_to_ground_truth(pred / 255.0, truth / 255.0) == pytest.approx(127.5)
    # Identical inputs: zero loss.
    assert M.l2_to_ground_truth(truth, truth) == 0.0
    assert M.mse(pred, pred) == 0.0


def test_table2_batch_and_evaluate():
    pred, truth = _one_voxel_off()
    batch_p = np.stack([pred, truth])  # second volume is perfect
    batch_t = np.stack([truth, truth])
    per = M.l2_to_ground_truth(batch_p, batch_t, reduce=False)
    np.testing.assert_allclose(per, [127.5, 0.0])
    # mean 63.75, population std 63.75
    assert M.l2_to_ground_truth(batch_p, batch_t) == pytest.approx(63.75)
    assert M.summary(per) == {"mean": 63.75, "std": 63.75}
    res = M.evaluate_table2(batch_p, batch_t)
    json.dumps(res)
    assert res["L"] == pytest.approx(63.75) and res["sigma"] == pytest.approx(63.75)
    assert res["l2_norm"] == pytest.approx(0.5) and res["l2_norm_sigma"] == pytest.approx(0.5)
    assert res["mse"] == pytest.approx(0.125) and res["num_volumes"] == 2.0
    # A single video and reduce=False gives a 1-element array.
    assert M.mse(pred, truth, reduce=False).shape == (1,)


def test_table2_shape_mismatch_names_both_shapes():
    a = np.zeros((2, 1, 2, 1), np.uint8)
    b = np.zeros((3, 1, 2, 1), np.uint8)
    with pytest.raises(ValueError, match=r"pred \(2, 1, 2, 1\) and truth \(3, 1, 2, 1\)"):
        M.l2_to_ground_truth(a, b)
    with pytest.raises(ValueError, match=r"pred \(2, 1, 2, 1\) and truth \(1, 2, 1, 2, 1\)"):
        M.mse(a, b[None, :2])
    with pytest.raises(ValueError, match=r"\(T, H, W, C\)"):
        M.mse(a[0], a[0])


# --------------------------------------------------------------------------- Table 1


def test_digit_masks_threshold():
    # threshold 0.2 = 51/255: "exceeds" is strict, so 51 is background, 52 digit;
    # the max channel decides, so navy (0, 0, 117) is a digit.
    video = np.array([[[[51, 51, 51], [52, 0, 0], [0, 0, 117], [0, 0, 0]]]], np.uint8)
    np.testing.assert_array_equal(M.digit_masks(video), [[[False, True, True, False]]])
    np.testing.assert_array_equal(
        M.digit_masks(video / 255.0, threshold=0.5), [[[False, False, False, False]]]
    )
    assert M.digit_masks(np.stack([video, video])).shape == (2, 1, 1, 4)


def test_shape_l2_by_hand():
    # T=2 frames of 2x2; the prediction has one digit pixel where the truth has
    # background: 1 of 8 pixels differs -> 100 * 1/8 = 12.5 (percent).
    truth_masks = np.zeros((2, 2, 2), bool)
    truth_masks[:, 0, 0] = True
    pred = np.zeros((2, 2, 2, 3), np.uint8)
    pred[:, 0, 0] = 200
    assert M.shape_l2(pred, truth_masks) == 0.0
    pred[1, 1, 1] = (0, 90, 0)
    assert M.shape_l2(pred, truth_masks) == pytest.approx(12.5)
    # Masks with a trailing channel of 1, or as 0/1 ints, work the same.
    assert M.shape_l2(pred, truth_masks[..., None].astype(np.uint8)) == pytest.approx(12.5)
    with pytest.raises(ValueError, match=r"video \(2, 2, 2, 3\) and truth_masks \(2, 2, 3\)"):
        M.shape_l2(pred, np.zeros((2, 2, 3), bool))


def test_digit_intensity_mean_by_hand():
    # One frame, 1x3: pixels (30, 60, 90) -> 60 and (90, 90, 90) -> 90 inside the
    # mask, a white background pixel outside: mean intensity (60 + 90) / 2 = 75.
    video = np.array([[[[30, 60, 90], [90, 90, 90], [255, 255, 255]]]], np.uint8)
    masks = np.array([[[True, True, False]]])
    assert M.digit_intensity_mean(video, masks) == pytest.approx(75.0)
    # Default masks (max channel > 51) include the white pixel: (60 + 90 + 255) / 3 = 135.
    assert M.digit_intensity_mean(video) == pytest.approx(135.0)
    # Floats in [0, 1] are reported in 0-255 units too.
    assert M.digit_intensity_mean(video / 255.0, masks) == pytest.approx(75.0)


def test_colour_std_within_frame_by_hand():
    # Frame 0 (1x2): red and green -> per-channel std R 127.5, G 127.5, B 0 -> 85.
    # Frame 1: two identical pixels -> 0. Frame 2: empty mask -> skipped.
    # Mean over frames 0 and 1 = 42.5.
    video = np.zeros((3, 1, 2, 3), np.uint8)
    video[0, 0, 0], video[0, 0, 1] = RED, GREEN
    video[1] = (10, 20, 30)
    masks = np.ones((3, 1, 2), bool)
    masks[2] = False
    assert M.colour_std_within_frame(video, masks) == pytest.approx(42.5)
    # A single constant colour has no spread.
    assert M.colour_std_within_frame(frames_of(RED, RED, h=2, w=2)) == 0.0


def test_colour_std_across_clip_constant_and_switch():
    # Constant red clip: per-frame mean colours equal -> 0.
    assert M.colour_std_across_clip(frames_of(RED, RED, RED)) == pytest.approx(0.0)
    # red, red, green, green: R over time [255, 255, 0, 0] std 127.5, G likewise,
    # B 0 -> (127.5 + 127.5 + 0) / 3 = 85.
    assert M.colour_std_across_clip(frames_of(RED, RED, GREEN, GREEN)) == pytest.approx(85.0)


def test_colour_drift_by_hand():
    # Frame 0 red, frame 2 green: ||(255, 0, 0) - (0, 255, 0)|| = 255 * sqrt(2).
    assert M.colour_drift(frames_of(RED, RED, GREEN)) == pytest.approx(255 * math.sqrt(2))
    assert M.colour_drift(frames_of(RED, RED)) == 0.0
    # The reference is the first frame that has digit pixels (frame 0 is black).
    assert M.colour_drift(frames_of((0, 0, 0), RED, RED)) == 0.0


def test_empty_mask_gives_nan_and_is_skipped_in_batch_mean():
    black = frames_of((0, 0, 0), (0, 0, 0))
    red = frames_of((100, 0, 0), (100, 0, 0))
    # red intensity = 100 / 3
    assert math.isnan(M.digit_intensity_mean(black))
    per = M.digit_intensity_mean(np.stack([black, red]), reduce=False)
    assert math.isnan(per[0]) and per[1] == pytest.approx(100 / 3)
    assert M.digit_intensity_mean(np.stack([black, red])) == pytest.approx(100 / 3)


def test_table1_batch_matches_single_videos():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, size=(3, 4, 5, 6, 3)).astype(np.uint8)
    truth = rng.integers(0, 256, size=(3, 4, 5, 6, 3)).astype(np.uint8)
    tmask = M.digit_masks(truth)
    for fn in (
        M.digit_intensity_mean,
        M.colour_std_within_frame,
        M.colour_std_across_clip,
        M.colour_drift,
    ):
        per = fn(batch, reduce=False)
        assert per.shape == (3,)
        np.testing.assert_allclose(per, [fn(v) for v in batch])
        assert fn(batch) == pytest.approx(per.mean())
    per = M.shape_l2(batch, tmask, reduce=False)
    np.testing.assert_allclose(per, [M.shape_l2(v, m) for v, m in zip(batch, tmask)])


def test_evaluate_table1_identical_and_colour_switch():
    clip = frames_of(RED, RED, RED, RED, h=2, w=2)
    clip[:, 1, 1] = 0  # background pixel
    res = M.evaluate_table1(clip, clip)
    json.dumps(res)
    assert set(M.TABLE_METRICS["table1"]["columns"]) <= set(res)
    assert res["shape_l2"] == 0.0
    # Digit pixels are pure red: intensity 255 / 3 = 85, no spread within a frame.
    assert res["intensity_mean"] == pytest.approx(85.0)
    assert res["gt_intensity_mean"] == pytest.approx(85.0)
    assert res["colour_sigma"] == 0.0
    assert res["colour_sigma_across_clip"] == pytest.approx(0.0)
    assert res["relative_flicker"] == 1.0
    # A "random" model switching colour mid-clip: same shapes, across-clip std 85.
    switched = clip.copy()
    switched[2:, :, :, :] = np.where(clip[2:] > 0, np.uint8(255), np.uint8(0))[..., [1, 0, 2]]
    res = M.evaluate_table1(switched, clip)
    assert res["shape_l2"] == 0.0
    assert res["colour_sigma_across_clip"] == pytest.approx(85.0)
    assert res["gt_colour_sigma_across_clip"] == pytest.approx(0.0)
    assert res["colour_drift"] == pytest.approx(255 * math.sqrt(2))


# --------------------------------------------------------------------------- temporal


def test_temporal_flicker_by_hand():
    const = np.full((3, 2, 2, 3), 77, np.uint8)
    assert M.temporal_flicker(const) == 0.0
    # black, white, black: |diff| = 1 everywhere for both pairs -> 1.0
    alt = np.zeros((3, 1, 2, 1), np.uint8)
    alt[1] = 255
    assert M.temporal_flicker(alt) == pytest.approx(1.0)
    # only one of two pixels alternates -> mean |diff| per pair 0.5 -> 0.5
    half = np.zeros((3, 1, 2, 1), np.uint8)
    half[1, 0, 0] = 255
    assert M.temporal_flicker(half) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least 2 frames"):
        M.temporal_flicker(alt[:1])


def test_relative_flicker_by_hand():
    alt = np.zeros((3, 1, 2, 1), np.uint8)
    alt[1] = 255  # flicker 1.0
    half = np.zeros((3, 1, 2, 1), np.uint8)
    half[1, 0, 0] = 255  # flicker 0.5
    const = np.zeros((3, 1, 2, 1), np.uint8)
    assert M.relative_flicker(alt, half) == pytest.approx(2.0)
    assert M.relative_flicker(half, alt) == pytest.approx(0.5)
    assert M.relative_flicker(const, const) == 1.0  # 0 / 0 -> 1
    assert M.relative_flicker(alt, const) == math.inf  # x / 0 -> inf
    # Reference may have other channels / size (e.g. RGB output vs grey input).
    rgb_alt = np.repeat(np.repeat(alt, 3, axis=-1), 2, axis=1)
    assert M.relative_flicker(rgb_alt, half) == pytest.approx(2.0)
    np.testing.assert_allclose(
        M.relative_flicker(np.stack([alt, half]), np.stack([half, half]), reduce=False), [2.0, 1.0]
    )
    with pytest.raises(ValueError, match="same number of videos and frames"):
        M.relative_flicker(alt, alt[:2])


def test_chunked_paths_match_unchunked(monkeypatch):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(2, 7, 4, 5, 3)).astype(np.uint8)
    b = rng.integers(0, 256, size=(2, 7, 4, 5, 3)).astype(np.uint8)
    fns = [
        lambda: M.mse(a, b, reduce=False),
        lambda: M.temporal_flicker(a, reduce=False),
        lambda: M.colour_std_within_frame(a, reduce=False),
        lambda: M.colour_drift(a, reduce=False),
    ]
    full = [f() for f in fns]
    # One frame (60 elements) per chunk, or 2 frames for flicker's overlap.
    from keras_v2v.evaluation import arrays

    monkeypatch.setattr(arrays, "CHUNK_ELEMS", 1)
    for f, want in zip(fns, full):
        np.testing.assert_allclose(f(), want)
    # Reference computations in plain numpy.
    af, bf = a / 255.0, b / 255.0
    np.testing.assert_allclose(full[0], ((af - bf) ** 2).mean(axis=(1, 2, 3, 4)))
    np.testing.assert_allclose(full[1], np.abs(np.diff(af, axis=1)).mean(axis=(1, 2, 3, 4)))


# --------------------------------------------------------------------------- Table 4

PALETTE = np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], np.uint8)


def test_rgb_to_class_ids_nearest_colour():
    # (10,10,10) -> black 0; (200,200,200) -> white 1; (200,30,30) -> red 2.
    rgb = np.array([[[10, 10, 10], [200, 200, 200], [200, 30, 30]]], np.uint8)
    np.testing.assert_array_equal(M.rgb_to_class_ids(rgb, PALETTE), [[0, 1, 2]])
    np.testing.assert_array_equal(M.rgb_to_class_ids(rgb, PALETTE, chunk_pixels=1), [[0, 1, 2]])
    # Floats in [0, 1] are scaled to 0-255 first.
    np.testing.assert_array_equal(M.rgb_to_class_ids(rgb / 255.0, PALETTE), [[0, 1, 2]])
    # Equidistant (1,1,1) between (0,0,0) and (2,2,2): lowest id wins.
    assert M.rgb_to_class_ids(np.array([1, 1, 1], np.uint8), [[0, 0, 0], [2, 2, 2]]) == 0
    with pytest.raises(ValueError, match="palette"):
        M.rgb_to_class_ids(rgb, PALETTE[:, :2])


def test_rgb_to_class_ids_agrees_with_street_decoder():
    from keras_v2v.data.street import CLASS_COLOURS, rgb_to_classes

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(3, 17, 19, 3)).astype(np.uint8)
    np.testing.assert_array_equal(
        M.rgb_to_class_ids(rgb, CLASS_COLOURS, chunk_pixels=100), rgb_to_classes(rgb)
    )


def test_majority_filter_removes_single_flipped_pixel():
    labels = np.zeros((2, 5, 5), np.int64)
    labels[0, 2, 2] = 1  # interior: 8 of 9 neighbours say 0
    labels[1, 0, 0] = 1  # corner: truncated window 2x2, 3 of 4 say 0
    out = M.majority_filter(labels, 3)
    np.testing.assert_array_equal(out, np.zeros_like(labels))
    assert out.dtype == labels.dtype
    # size 0 (or 1) leaves labels alone; even sizes are refused.
    np.testing.assert_array_equal(M.majority_filter(labels, 0), labels)
    with pytest.raises(ValueError, match="odd"):
        M.majority_filter(labels, 4)


def test_majority_filter_keeps_stripe_and_breaks_ties_to_own_label():
    # A 3-pixel-wide vertical stripe (cols 1-3) in a 5x5 frame of zeros.
    # Col 0 pixel: truncated window cols 0-1 -> 3 zeros vs 3 ones -> tie -> keeps 0.
    # Col 1 pixel: cols 0-2 -> 3 zeros vs 6 ones -> 1. So a 3x3 filter changes nothing.
    labels = np.zeros((1, 5, 5), np.uint8)
    labels[0, :, 1:4] = 1
    np.testing.assert_array_equal(M.majority_filter(labels, 3), labels)
    # 1x2 frame [0, 1]: both windows see one 0 and one 1 -> each keeps its label.
    tie = np.array([[[0, 1]]])
    np.testing.assert_array_equal(M.majority_filter(tie, 3), tie)
    # 1x3 frame [2, 1, 0] with 5x5: every window sees one of each; the middle keeps 1.
    three = np.array([[[2, 1, 0]]])
    np.testing.assert_array_equal(M.majority_filter(three, 5), three)
    # A batch filters each video and frame alone.
    batch = np.stack([labels, labels])
    np.testing.assert_array_equal(M.majority_filter(batch, 3), batch)


def test_pixel_accuracy_by_hand():
    truth = np.zeros((1, 3, 3), np.int64)  # one frame of black (class 0)
    pred = np.zeros((1, 3, 3, 3), np.uint8)
    assert M.pixel_accuracy(pred, truth, PALETTE) == 1.0
    pred[0, 1, 1] = (250, 10, 10)  # decodes to red: 8 of 9 right
    assert M.pixel_accuracy(pred, truth, PALETTE) == pytest.approx(8 / 9)
    # 3x3 majority filter removes the lone red pixel -> 1.0
    assert M.pixel_accuracy(pred, truth, PALETTE, denoise=3) == 1.0
    # RGB ground truth (same palette) gives the same numbers.
    truth_rgb = PALETTE[truth]
    assert M.pixel_accuracy(pred, truth_rgb, PALETTE) == pytest.approx(8 / 9)
    # Batch: per-video [8/9, 1] and their mean.
    bp, bt = np.stack([pred, np.zeros_like(pred)]), np.stack([truth, truth])
    np.testing.assert_allclose(M.pixel_accuracy(bp, bt, PALETTE, reduce=False), [8 / 9, 1.0])
    assert M.pixel_accuracy(bp, bt, PALETTE) == pytest.approx((8 / 9 + 1) / 2)
    with pytest.raises(
        ValueError, match=r"pred_rgb \(1, 3, 3, 3\) and truth_class_maps \(1, 3, 2\)"
    ):
        M.pixel_accuracy(pred, truth[:, :, :2], PALETTE)


# Video A (T=3, 1x2): frames [0,0] -> [0,1] -> [1,1].
# Pairs: 0->0, 0->1 (t=0); 0->1, 1->1 (t=1). Row 0: 1 stay, 2 to class 1.
VIDEO_A = np.array([[[0, 0]], [[0, 1]], [[1, 1]]])
# Video B: [2,2] -> [2,2] -> [2,0]. Pairs: 2->2 three times, 2->0 once.
VIDEO_B = np.array([[[2, 2]], [[2, 2]], [[2, 0]]])


def test_class_transition_matrix_by_hand():
    p = M.class_transition_matrix(VIDEO_A, 3)
    np.testing.assert_allclose(p, [[1 / 3, 2 / 3, 0], [0, 1, 0], [0, 0, 0]])
    # Class 2 never occurs: zero row by default, identity row on request.
    p = M.class_transition_matrix(VIDEO_A, 3, empty_row="identity")
    np.testing.assert_allclose(p[2], [0, 0, 1])
    # Batch pooled: rows 0, 1 from A; row 2 from B = [1/4, 0, 3/4]. No pair spans
    # the two videos (concatenating in time would add 1->2 transitions).
    pooled = M.class_transition_matrix(np.stack([VIDEO_A, VIDEO_B]), 3)
    np.testing.assert_allclose(pooled, [[1 / 3, 2 / 3, 0], [0, 1, 0], [1 / 4, 0, 3 / 4]])
    per = M.class_transition_matrix(np.stack([VIDEO_A, VIDEO_B]), 3, reduce=False)
    assert per.shape == (2, 3, 3)
    np.testing.assert_allclose(per[0], M.class_transition_matrix(VIDEO_A, 3))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 0\]"):
        M.class_transition_matrix(VIDEO_A, 1)
    with pytest.raises(ValueError, match="at least 2 frames"):
        M.class_transition_matrix(VIDEO_A[:1], 3)


def test_transition_matrix_l2_by_hand():
    static = np.zeros_like(VIDEO_A)
    assert M.transition_matrix_l2(VIDEO_A, VIDEO_A, 3) == 0.0
    # P_static = [[1,0,0],[0,0,0],[0,0,0]] vs P_A = [[1/3,2/3,0],[0,1,0],[0,0,0]]:
    # (2/3)^2 + (2/3)^2 + 1^2 = 17/9 -> sqrt(17)/3.
    assert M.transition_matrix_l2(static, VIDEO_A, 3) == pytest.approx(math.sqrt(17) / 3)
    # Identity rows: rows 1 and 2 agree, only row 0 differs: sqrt(8/9).
    assert M.transition_matrix_l2(static, VIDEO_A, 3, empty_row="identity") == pytest.approx(
        math.sqrt(8 / 9)
    )
    per = M.transition_matrix_l2(
        np.stack([static, VIDEO_B]), np.stack([VIDEO_A, VIDEO_B]), 3, reduce=False
    )
    np.testing.assert_allclose(per, [math.sqrt(17) / 3, 0.0])
    with pytest.raises(ValueError, match=r"pred_classes \(3, 1, 2\) and truth_classes \(2, 1, 2\)"):
        M.transition_matrix_l2(VIDEO_A, VIDEO_A[:2], 3)


def test_evaluate_table4_keys_and_values():
    truth = np.stack([VIDEO_A, VIDEO_B]).repeat(3, axis=2).repeat(3, axis=3)  # (2, 3, 3, 6)
    pred = PALETTE[truth]
    res = M.evaluate_table4(pred, truth, PALETTE, denoise_levels=(0, 3))
    json.dumps(res)
    assert res["pixel_accuracy"] == 1.0 and res["transition_l2"] == 0.0
    assert res["pixel_accuracy_denoise0"] == 1.0 and "transition_l2_denoise3" in res
    # One wrong pixel in 2 * 3 * 3 * 6 = 108; the 3x3 filter repairs it.
    pred = pred.copy()
    pred[0, 0, 1, 1] = PALETTE[2]
    res = M.evaluate_table4(pred, truth, PALETTE, denoise_levels=(0, 3))
    assert res["pixel_accuracy_denoise0"] == pytest.approx(1 - 1 / 54 / 2)
    assert res["pixel_accuracy_denoise3"] == 1.0
    assert res["transition_l2_denoise0"] > 0.0 and res["transition_l2_denoise3"] == 0.0


# --------------------------------------------------------------------------- registry / paper


def test_paper_constants_and_registry():
    assert M.PAPER_TABLE1["3D"] == {
        "shape_l2": 0.79,
        "intensity_mean": 204.36,
        "colour_sigma": 45.65,
    }
    assert M.PAPER_TABLE1["GT"]["shape_l2"] is None
    assert M.PAPER_TABLE1["Seq+const"]["colour_sigma"] == 54.06
    assert M.PAPER_TABLE2["Random"] == {"L": 48.73, "sigma": 13.72}
    assert M.PAPER_TABLE2["Seq+const"] == {"L": 73.41, "sigma": 5.26}
    assert M.PAPER_TABLE4["3D 200M"] == {"slow": 0.77, "all_test": 0.72}
    assert M.PAPER_TABLE4["Random"] == {"slow": None, "all_test": None}
    json.dumps([M.PAPER_TABLE1, M.PAPER_TABLE2, M.PAPER_TABLE4, M.PAPER_TABLE4_GARBLED])
    for table, entry in M.TABLE_METRICS.items():
        assert callable(entry["evaluate"])
        for method, row in entry["paper"].items():
            if table != "table4":
                assert set(row) == set(entry["columns"]), (table, method)
