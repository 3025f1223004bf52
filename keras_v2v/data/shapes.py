"""A clip's or volume's shape as the readers will return it, from its headers alone (nothing decoded).

`keras-v2v translate` plans with it: the model's passes and the clip must fit
in memory before a frame is decoded.
"""

import os

from keras_v2v.data import video_io, volume_io


def declared_shape(path, max_side=None):
    """(frames, height, width) of a clip, frame folder or NIfTI volume as the readers return it, from headers alone.

    Heights and widths are after `max_side` (volumes are not downscaled);
    frames is 0 when the file does not say.
    """
    path = os.fspath(path)
    if path.lower().endswith(volume_io.NIFTI_SUFFIXES):
        return volume_io.nifti_shape(path)
    if os.path.isdir(path):
        files = video_io.list_frames(path)
        info, frames = video_io.probe_video(files[0]), len(files)
    else:
        info = video_io.probe_video(path)
        frames = info.frames or video_io.count_packets(path) or 0  # GIF: demuxing counts, decoding nothing
    return (frames, *video_io.scaled_size(info.height, info.width, max_side))
