"""Resizing frames and volumes along any axis (area, linear or nearest), in numpy.

Kept ours: `data` imports no Keras backend (so not keras.ops.image.resize), Pillow is not a
core dependency and resizes 2D images only (volumes need the depth axis), and swscale (PyAV)
reads uninitialised row padding of its frames; this exact box filter is none of those.
"""

import numpy as np




def resample_axis(x, axis, size, method):
    """Resample one axis of a float array to ``size`` samples (half-pixel centres)."""
    n = x.shape[axis]
    if n == size:
        return x
    scale = n / size
    if method == "nearest":
        idx = np.minimum(((np.arange(size) + 0.5) * scale).astype(np.int64), n - 1)
        return np.take(x, idx, axis=axis)
    if method == "area" and size < n:
        # Exact box filter: integrate the piecewise-constant signal over each output cell.
        x64 = np.moveaxis(x, axis, 0).astype(np.float64)
        c = np.concatenate([np.zeros((1,) + x64.shape[1:]), np.cumsum(x64, axis=0)])
        edges = np.arange(size + 1) * scale
        lo = np.minimum(np.floor(edges).astype(np.int64), n - 1)
        frac = (edges - lo).reshape((-1,) + (1,) * (x64.ndim - 1))
        integral = c[lo] + frac * (c[lo + 1] - c[lo])
        out = (integral[1:] - integral[:-1]) / scale
        return np.moveaxis(out.astype(x.dtype), 0, axis)
    # linear (also "area" when enlarging)
    src = np.clip((np.arange(size) + 0.5) * scale - 0.5, 0, n - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = size
    w = (src - i0).reshape(shape).astype(x.dtype)
    return np.take(x, i0, axis=axis) * (1 - w) + np.take(x, i1, axis=axis) * w


def resize_frames(frames, size, method="area"):
    """Resize (..., H, W, C) frames to ``size=(height, width)``.

    ``method``: "area" (box filter when shrinking, linear when enlarging: no
    aliasing on big reductions), "linear", or "nearest" (for label maps).
    uint8 in -> uint8 out (rounded); float in -> float32 out.
    """
    if method not in ("area", "linear", "nearest"):
        raise ValueError(
            f"resize_frames: `method` must be 'area', 'linear' or 'nearest', got {method!r}"
        )
    frames = np.asarray(frames)
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"resize_frames: `size` must be positive, got {size!r}")
    if frames.shape[-3:-1] == (height, width):
        return frames
    if method == "nearest":
        out = resample_axis(frames, frames.ndim - 3, height, "nearest")
        return resample_axis(out, frames.ndim - 2, width, "nearest")
    x = frames.astype(np.float32)
    x = resample_axis(x, x.ndim - 3, height, method)
    x = resample_axis(x, x.ndim - 2, width, method)
    if frames.dtype == np.uint8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x.astype(np.float32)
