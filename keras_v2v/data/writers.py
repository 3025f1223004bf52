"""Side-by-side comparison videos: input | output | ground truth, one file.

``side_by_side(*videos)`` concatenates videos (T, H, W, C) or volumes
(D, H, W, 1) along the width: grey is broadcast to RGB, every panel is scaled
to the first panel's height (keeping its aspect ratio), shorter videos are
held on their last frame, and optional labels are drawn above each panel with
a built-in 3x5 pixel font (no font files or Pillow needed).
"""

import warnings

import numpy as np

from keras_v2v.data.errors import DataError
from keras_v2v.data.resize import resize_frames
from keras_v2v.data.video_write import validated_frames, write_video

# 3x5 bitmap glyphs; lower case is drawn as upper case, unknown characters as "?".
_FONT = {
    "A": ("010", "101", "111", "101", "101"), "B": ("110", "101", "110", "101", "110"),
    "C": ("011", "100", "100", "100", "011"), "D": ("110", "101", "101", "101", "110"),
    "E": ("111", "100", "110", "100", "111"), "F": ("111", "100", "110", "100", "100"),
    "G": ("011", "100", "101", "101", "011"), "H": ("101", "101", "111", "101", "101"),
    "I": ("111", "010", "010", "010", "111"), "J": ("001", "001", "001", "101", "010"),
    "K": ("101", "101", "110", "101", "101"), "L": ("100", "100", "100", "100", "111"),
    "M": ("101", "111", "111", "101", "101"), "N": ("110", "101", "101", "101", "101"),
    "O": ("010", "101", "101", "101", "010"), "P": ("110", "101", "110", "100", "100"),
    "Q": ("010", "101", "101", "110", "011"), "R": ("110", "101", "110", "101", "101"),
    "S": ("011", "100", "010", "001", "110"), "T": ("111", "010", "010", "010", "010"),
    "U": ("101", "101", "101", "101", "111"), "V": ("101", "101", "101", "101", "010"),
    "W": ("101", "101", "111", "111", "101"), "X": ("101", "101", "010", "101", "101"),
    "Y": ("101", "101", "010", "010", "010"), "Z": ("111", "001", "010", "100", "111"),
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("110", "001", "010", "100", "111"), "3": ("110", "001", "010", "001", "110"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "110", "001", "110"),
    "6": ("011", "100", "111", "101", "111"), "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "110"),
    " ": ("000", "000", "000", "000", "000"), "-": ("000", "000", "111", "000", "000"),
    "_": ("000", "000", "000", "000", "111"), ".": ("000", "000", "000", "000", "010"),
    ",": ("000", "000", "000", "010", "100"), ":": ("000", "010", "000", "010", "000"),
    "/": ("001", "001", "010", "100", "100"), "(": ("010", "100", "100", "100", "010"),
    ")": ("010", "001", "001", "001", "010"), "+": ("000", "010", "111", "010", "000"),
    "=": ("000", "111", "000", "111", "000"), ">": ("100", "010", "001", "010", "100"),
    "<": ("001", "010", "100", "010", "001"), "%": ("101", "001", "010", "100", "101"),
    "?": ("110", "001", "010", "000", "010"), "'": ("010", "010", "000", "000", "000"),
}


def _glyph(char):
    rows = _FONT.get(char.upper(), _FONT["?"])
    return np.array([[c == "1" for c in row] for row in rows], bool)


def render_label(text, width, scale=1):
    """A (5*scale + 4*scale, width, 3) uint8 strip with ``text`` in white on black."""
    pad = 2 * scale
    strip = np.zeros((5 * scale + 2 * pad, width, 3), np.uint8)
    if not text:
        return strip
    bitmap = np.concatenate(
        [np.pad(_glyph(c), ((0, 0), (0, 1))) for c in str(text)], axis=1
    )[:, :-1]
    bitmap = np.kron(bitmap, np.ones((scale, scale), bool))
    bitmap = bitmap[:, : max(0, width - 2 * pad)]  # too long: cut at the panel edge
    left = max(pad, (width - bitmap.shape[1]) // 2)
    strip[pad : pad + bitmap.shape[0], left : left + bitmap.shape[1]][bitmap] = 255
    return strip


def _as_video(video, k):
    """A video (T, H, W[, C]) or volume (D, H, W, 1) -> uint8 (T, H, W, 3)."""
    array = np.asarray(video)
    if array.ndim == 3 or (array.ndim == 4 and array.shape[-1] in (1, 3)):
        return np.stack(list(validated_frames(array, name=f"videos[{k}]")))
    raise DataError(
        f"videos[{k}]",
        "expected a video (T, H, W, C) with C 1 or 3, a volume (D, H, W, 1) or "
        f"(T, H, W) grey, found shape {array.shape}",
    )


def side_by_side(*videos, labels=None, gap=2, height=None):
    """Concatenate videos/volumes left to right -> uint8 (T, H', W', 3).

    Args:
        *videos: (T, H, W, C) or (T, H, W) arrays, uint8 or float in [0, 1];
            volumes (D, H, W, 1) count as grey videos over depth.
        labels: one string per video, drawn above its panel; None for none.
        gap: black columns between panels.
        height: panel height; None uses the first video's height.
    """
    if not videos:
        raise ValueError("side_by_side: expected at least one video")
    if labels is not None and len(labels) != len(videos):
        raise ValueError(
            f"side_by_side: got {len(labels)} labels for {len(videos)} videos"
        )
    panels = [_as_video(v, k) for k, v in enumerate(videos)]
    target_h = int(height or panels[0].shape[1])
    for k, p in enumerate(panels):
        h, w = p.shape[1:3]
        new_w = max(1, round(w * target_h / h))
        method = "nearest" if target_h > h else "area"  # crisp pixels when enlarging
        panels[k] = resize_frames(p, (target_h, new_w), method=method)
    length = max(p.shape[0] for p in panels)
    if any(p.shape[0] != length for p in panels):
        warnings.warn(
            "side_by_side: videos differ in length "
            f"({[p.shape[0] for p in panels]}); shorter ones hold their last frame",
            stacklevel=2,
        )
        panels = [
            np.concatenate([p, np.repeat(p[-1:], length - p.shape[0], axis=0)])
            for p in panels
        ]
    if labels is not None:
        scale = max(1, target_h // 96)
        labelled = []
        for text, p in zip(labels, panels):
            strip = render_label(text, p.shape[2], scale)
            labelled.append(
                np.concatenate([np.broadcast_to(strip, (length,) + strip.shape), p], axis=1)
            )
        panels = labelled
    spacer = np.zeros((length, panels[0].shape[1], int(gap), 3), np.uint8)
    parts = []
    for k, p in enumerate(panels):
        if k and gap:
            parts.append(spacer)
        parts.append(p)
    return np.concatenate(parts, axis=2)


def write_side_by_side(path, *videos, labels=None, fps=30, gap=2, height=None, **kwargs):
    """``side_by_side(*videos)`` written to ``path`` with ``write_video`` (atomic)."""
    frames = side_by_side(*videos, labels=labels, gap=gap, height=height)
    return write_video(path, frames, fps=fps, **kwargs)
