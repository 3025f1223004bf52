"""`CycleGAN.translate`'s numpy side; it lives in `keras_v2v.utils.windows` so that serving needs no Keras."""

from keras_v2v.utils.windows import (  # noqa: F401 (this module's names, kept for their users)
    BYTES_PER_VOXEL_PER_FILTER,
    check_clip_memory,
    check_memory,
    check_video,
    forward_bytes,
    full_resolution_filters,
    tent_weights,
    time_margin,
    translate,
    window_starts,
)
