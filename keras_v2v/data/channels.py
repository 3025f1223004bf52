"""Grey <-> RGB for uint8 clips, one frame at a time (no float copy of a whole clip)."""

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601


def grey_into(target, rgb):
    """`rgb` (..., 3) uint8 -> BT.601 luma written into `target` (..., 1) uint8, one frame's float copy at most."""
    target[..., 0] = np.clip(np.rint(rgb.astype(np.float32) @ LUMA), 0, 255)


def to_channels(video, channels):
    """Grey <-> RGB: ``video`` (..., C) uint8 with ``channels`` (1 or 3) channels.

    RGB -> grey uses the ITU-R BT.601 luma weights; grey -> RGB repeats the
    channel. Other channel counts raise ValueError.
    """
    video = np.asarray(video)
    have = video.shape[-1]
    if have == channels:
        return video
    if have == 3 and channels == 1:
        # Frame by frame into the result: no float copy of the whole clip.
        grey = np.empty(video.shape[:-1] + (1,), video.dtype)
        frames, grey_frames = video.reshape((-1,) + video.shape[-3:]), grey.reshape((-1,) + grey.shape[-3:])
        for index in range(len(frames)):
            grey_into(grey_frames[index], frames[index])
        return grey
    if have == 1 and channels == 3:
        return np.repeat(video, 3, axis=-1)
    raise ValueError(f"cannot convert {have} channels to {channels} (only grey <-> RGB)")
