"""Side-by-side comparison videos: input | output | ground truth, one file.

``side_by_side(*videos)`` concatenates videos (T, H, W, C) or volumes
(D, H, W, 1) along the width: grey is broadcast to RGB, every panel is scaled
to the first panel's height (keeping its aspect ratio), shorter videos are
held on their last frame, and optional labels are drawn above each panel with
Pillow's built-in font.
"""

import functools
import warnings

import numpy as np

from keras_v2v.data.errors import DataError
from keras_v2v.data.resize import resize_frames
from keras_v2v.data.video_write import validated_frames, write_video

@functools.lru_cache(maxsize=8)
def _font(size):
    """Pillow's built-in font at `size` px (FreeType; its bitmap font where Pillow lacks FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow < 10.1 or no FreeType: a fixed-size bitmap font
        return ImageFont.load_default()


def render_label(text, width, scale=1):
    """A (H, width, 3) uint8 strip with ``text`` in white on black, centred; cut at the panel edge.

    Drawn by Pillow, not anti-aliased (``fontmode = "1"``), so the text is pure white and stays
    crisp when videos are enlarged; H is the font's line height plus a margin.
    """
    from PIL import Image, ImageDraw

    font = _font(10 * scale)
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (10 * scale, 0)
    pad = 2 * scale
    strip = Image.new("L", (max(1, int(width)), ascent + descent + 2 * pad), 0)
    if text:
        draw = ImageDraw.Draw(strip)
        draw.fontmode = "1"
        left = max(pad, int(width - draw.textlength(str(text), font=font)) // 2)
        draw.text((left, pad), str(text), fill=255, font=font)
    return np.repeat(np.asarray(strip)[..., None], 3, axis=-1)


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
