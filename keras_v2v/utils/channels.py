"""The one rule for grey <-> RGB that every entry point uses (the API, the CLI, the demo, the readers).

RGB -> grey is the ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), what video
codecs and Pillow's "L" mode compute; grey -> RGB repeats the channel. Videos
read from mp4/webm/gif files are always RGB, so a grey preset needs the first
direction for every file a user has. Conversions go frame by frame: no float
copy of a whole clip.
"""

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def grey_into(target, rgb):
    """`rgb` (..., 3) -> its luma written into `target` (..., 1) of `target`'s dtype (integers rounded)."""
    grey = rgb.astype(np.float32) @ LUMA
    if np.issubdtype(target.dtype, np.integer):
        info = np.iinfo(target.dtype)
        grey = np.clip(np.rint(grey), info.min, info.max)
    target[..., 0] = grey


def to_channels(video, channels):
    """``video`` (..., C) with ``channels`` (1 or 3) channels, same dtype.

    uint8 stays in [0, 255] (rounded); float stays in its range. Other channel
    counts raise ValueError.
    """
    video = np.asarray(video)
    have = video.shape[-1] if video.ndim else None
    if have == channels:
        return video
    if have == 3 and channels == 1:
        grey = np.empty(video.shape[:-1] + (1,), video.dtype)
        if video.ndim < 4:
            grey_into(grey, video)
            return grey
        frames, grey_frames = video.reshape((-1,) + video.shape[-3:]), grey.reshape((-1,) + grey.shape[-3:])
        for index in range(len(frames)):
            grey_into(grey_frames[index], frames[index])
        return grey
    if have == 1 and channels == 3:
        return np.repeat(video, 3, axis=-1)
    raise ValueError(f"cannot convert {have} channels to {channels} (only grey <-> RGB)")
