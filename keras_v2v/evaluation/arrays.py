"""Array conventions shared by every metric (checks, units, chunking, reduction).

Pure numpy, like the whole evaluation package: no Keras or TensorFlow import.

Conventions shared by every function
------------------------------------
Shapes
    A *video* is ``(T, H, W, C)`` and a batch of videos ``(N, T, H, W, C)``
    (volumes use the depth axis as ``T``). *Masks* and *class maps* have no
    channel axis: ``(T, H, W)`` or ``(N, T, H, W)`` (a mask may carry a
    trailing channel of size 1). Paired arguments must have matching shapes;
    a mismatch raises ``ValueError`` naming both shapes.
Reduction
    Every metric is computed per video. A batch is reduced to the mean over its
    videos (a plain Python ``float``); ``reduce=False`` returns the per-video
    values as a float64 array of shape ``(N,)`` (``(1,)`` for a single video).
    Videos whose value is undefined (e.g. no digit pixels) give ``nan`` and
    are left out of the mean (``nan`` only when every video is undefined).
    Transition matrices are the exception: a batch is *pooled* (see
    :func:`class_transition_matrix`).
Intensity units
    ``uint8`` (and other integer) pixels are 0-255 and are converted to floats
    in [0, 1] (``x / 255``); ``bool`` pixels become 0/1; float pixels must
    already be in [0, 1] (values outside [-1e-3, 1 + 1e-3] raise ``ValueError``:
    divide 0-255 floats by 255 first). Results are in [0, 1] units unless the
    docstring says "0-255 units": the Table 1 colour statistics (intensity
    mean, colour sigma, drift) and the Table 2 L2 are reported in 0-255 units
    as in the paper.

Tables
    :func:`evaluate_table1` (coloured moving MNIST), :func:`evaluate_table2`
    (volumetric MNIST) and :func:`evaluate_table4` (video -> segmentation)
    return JSON-serialisable dicts whose keys match :data:`PAPER_TABLE1`,
    :data:`PAPER_TABLE2` and :data:`PAPER_TABLE4`; :data:`TABLE_METRICS`
    ties each table to its evaluator, its columns and the paper's numbers.
"""

from __future__ import annotations

import warnings

import numpy as np

# Default foreground threshold of :func:`digit_masks`, in [0, 1] units (51 of 255).
DEFAULT_THRESHOLD = 0.2
# Float inputs may overshoot [0, 1] by this much (rounding in model outputs).
FLOAT_TOL = 1e-3
# Elements of one float64 working chunk (~32 MB); bounds memory for long videos.
CHUNK_ELEMS = 1 << 22



def numeric_array(x, name):
    x = np.asarray(x)
    if x.dtype == object or not (
        np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)
    ):
        raise ValueError(f"`{name}` must be a numeric array, got dtype {x.dtype}.")
    return x


def video_batch(x, name):
    """``(T,H,W,C)`` or ``(N,T,H,W,C)`` -> 5-D array, plus whether it was a single video."""
    x = numeric_array(x, name)
    if x.ndim == 4:
        x, single = x[None], True
    elif x.ndim == 5:
        single = False
    else:
        raise ValueError(
            f"`{name}` must be a video (T, H, W, C) or a batch (N, T, H, W, C), got shape {x.shape}."
        )
    if 0 in x.shape:
        raise ValueError(f"`{name}` must not be empty, got shape {x.shape}.")
    return x, single


def class_batch(x, name):
    """``(T,H,W)`` or ``(N,T,H,W)`` integer class maps -> 4-D array."""
    x = numeric_array(x, name)
    if x.ndim == 3:
        x = x[None]
    elif x.ndim != 4:
        raise ValueError(
            f"`{name}` must be a class video (T, H, W) or a batch (N, T, H, W), got shape {x.shape}."
        )
    if 0 in x.shape:
        raise ValueError(f"`{name}` must not be empty, got shape {x.shape}.")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.bool_)):
        if not np.all(np.equal(np.mod(x, 1), 0)):
            raise ValueError(f"`{name}` must hold integer class ids, got dtype {x.dtype}.")
        x = x.astype(np.int64)
    return x


def same_shape(a, b, name_a, name_b, shape_a=None, shape_b=None):
    sa = np.shape(a) if shape_a is None else shape_a
    sb = np.shape(b) if shape_b is None else shape_b
    if tuple(sa) != tuple(sb):
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same shape, "
            f"got {name_a} {tuple(np.shape(a))} and {name_b} {tuple(np.shape(b))}."
        )


def check_range(chunk, name):
    if chunk.dtype == np.uint8 or chunk.dtype == np.bool_ or chunk.size == 0:
        return
    if np.issubdtype(chunk.dtype, np.integer):
        lo, hi = chunk.min(), chunk.max()
        if lo < 0 or hi > 255:
            raise ValueError(
                f"integer `{name}` must hold 0-255 intensities, got values in [{lo}, {hi}]."
            )
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(chunk), np.nanmax(chunk)
    if lo < -FLOAT_TOL or hi > 1.0 + FLOAT_TOL:
        raise ValueError(
            f"float `{name}` must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; "
            "divide 0-255 floats by 255 or pass uint8."
        )


def as_unit_float(x, name="video"):
    """Pixels as float64 in [0, 1]: integers (0-255) / 255, bool -> 0/1, floats as is.

    Raises ``ValueError`` when integers fall outside 0-255 or floats outside
    [-1e-3, 1 + 1e-3] (the tolerance absorbs rounding in model outputs).
    """
    x = numeric_array(x, name)
    check_range(x, name)
    if np.issubdtype(x.dtype, np.bool_):
        return x.astype(np.float64)
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float64) / 255.0
    return x.astype(np.float64, copy=False)


def frame_step(frame_elems, overlap=0):
    """Frames per working chunk so a float64 chunk stays near ``CHUNK_ELEMS`` elements."""
    return max(1 + overlap, CHUNK_ELEMS // max(1, frame_elems))


def reduce_values(values, reduce):
    values = np.asarray(values, np.float64)
    if not reduce:
        return values
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return float("nan")
    return float(finite.mean())


def summary(values, ddof=0):
    """Mean and standard deviation of per-video values, as in the paper's "L" and "sigma".

    ``{"mean": mean(v), "std": sqrt(sum((v - mean)**2) / (n - ddof))}`` over the
    non-nan values (population std by default; ``ddof=1`` for the sample std).
    Plain floats; ``nan`` when there are no (or too few) values.
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan")}
    std = float(v.std(ddof=ddof)) if v.size > ddof else float("nan")
    return {"mean": float(v.mean()), "std": std}
