"""Numpy-side translation of whole videos: value ranges, batching, windows.

3D models see a fixed number of frames at a time. A longer video is covered
by overlapping windows; each window's output is weighted by a tent that is
highest in its middle (where the network saw most context) and the weighted
outputs are averaged, so there are no seams. A video longer than a window is
first mirrored in time by half a window at both ends, so its first and last
frames also sit in the middle of a window rather than at an edge (where a 3D
network sees only one side and its output froze). A video of one window is
translated whole, as in training; shorter videos are mirrored in time up to
one window and cropped back.

Numpy only, no Keras: `CycleGAN.translate` (through `keras_v2v.models.inference`)
and the exported graphs' runtimes (`keras_v2v.serving`, `examples/serve_onnx.py`)
share it, and the runtimes need no Keras backend.
"""

import numpy as np

from keras_v2v.utils import channels as channels_rule
from keras_v2v.utils.limits import MEMORY_ENV_VAR, memory_limit, over_limit_message


def _to_model_range(video):
    if video.dtype == np.uint8:
        return video.astype(np.float32) / 127.5 - 1.0
    if np.issubdtype(video.dtype, np.floating):
        return video.astype(np.float32) * 2.0 - 1.0
    raise ValueError(
        f"`video` must be uint8 in [0, 255] or float in [0, 1], got dtype {video.dtype}."
    )


def _from_model_range(output, dtype):
    output = np.clip(output, -1.0, 1.0)
    if dtype == np.uint8:
        return np.rint((output + 1.0) * 127.5).astype(np.uint8)
    return ((output + 1.0) * 0.5).astype(dtype)


def check_video(video, channels):
    """`video` as an array with the source domain's `channels`: grey <-> RGB converted
    (`keras_v2v.utils.channels`), so what `read_video` returns (always RGB) fits every preset."""
    video = np.asarray(video)
    if video.ndim not in (4, 5):
        raise ValueError(
            "`video` must be (T, H, W, C) or a batch (N, T, H, W, C); got an array "
            f"of shape {video.shape}."
        )
    try:
        video = channels_rule.to_channels(video, channels)
    except ValueError:
        raise ValueError(
            f"`video` has {video.shape[-1]} channels but the model's source domain "
            f"has {channels} (shape {video.shape}); only grey (1) and RGB (3) are converted."
        ) from None
    if 0 in video.shape:
        raise ValueError(f"`video` is empty (shape {video.shape}).")
    return video


# Peak memory of a generator forward pass per input voxel and per channel of its
# full-resolution layers, measured on TensorFlow/CPU (82-87 bytes for 2D and 3D
# presets from 128 to 1024 px; tests/test_inference_memory.py), with headroom.
BYTES_PER_VOXEL_PER_FILTER = 96


def full_resolution_filters(generator):
    """Channels of the generator's first convolution (its widest full-resolution tensors)."""
    for layer in generator.layers:
        if hasattr(layer, "filters") and hasattr(layer, "kernel_size"):
            return int(layer.filters)
    return 1


def forward_bytes(generator, voxels):
    """Estimated peak memory of running `generator` on `voxels` input voxels at once."""
    return int(voxels) * full_resolution_filters(generator) * BYTES_PER_VOXEL_PER_FILTER


def check_memory(generator, frames_per_call, height, width):
    """Refuses a translation whose forward passes would not fit the memory limit."""
    need = forward_bytes(generator, frames_per_call * height * width)
    limit = memory_limit()
    if need > limit:
        raise ValueError(over_limit_message(
            f"translating {frames_per_call} frames of {width}x{height} per forward pass", need, limit,
            hint="downscale the video (keras-v2v translate --max-side, or data.read_video(max_side=...)) "
                 "or lower batch_size", raise_with=f"set {MEMORY_ENV_VAR} (e.g. {MEMORY_ENV_VAR}=64GiB)"))


def check_clip_memory(generator, frames_per_call, shape, channels_in, channels_out, itemsize=1):
    """Refuses, before decoding, a clip that with its translation and the forward passes would not fit in memory.

    `shape` is (frames, height, width) as the headers declare it; the clip
    and its translation are held whole (`itemsize` bytes a value), the passes
    `frames_per_call` frames at a time.
    """
    frames, height, width = shape
    check_memory(generator, frames_per_call, height, width)
    held = frames * height * width * (channels_in + channels_out) * itemsize
    need = held + forward_bytes(generator, frames_per_call * height * width)
    limit = memory_limit()
    if need > limit:
        raise ValueError(over_limit_message(
            f"translating {frames} frames of {width}x{height} (the clip and its translation, {held / 2**30:.3g} "
            "GiB, and the model's passes)", need, limit, hint="downscale (--max-side) or translate a shorter clip",
            raise_with=f"set {MEMORY_ENV_VAR} (e.g. {MEMORY_ENV_VAR}=64GiB)"))


def window_starts(num_frames, window, overlap):
    """Start frames of windows of `window` frames covering `num_frames` frames."""
    if num_frames <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, num_frames - window, stride))
    starts.append(num_frames - window)
    return starts


def time_margin(num_frames, window, overlap):
    """Frames mirrored at each end of a video of `num_frames` >= `window` before windowing.

    0 without overlap, and 0 for a video that fits one window: that is translated whole, as
    the model was trained (a volume's slices depend on where they are in it).
    """
    return min(window // 2, num_frames - 1) if overlap and num_frames > window else 0


def tent_weights(window):
    """1, 2, ..., peak, ..., 2, 1: never zero, so every frame gets weight."""
    t = np.arange(window, dtype=np.float32)
    return np.minimum(t + 1, window - t)


def translate(generate, video, rank, channels, window=None, overlap=None, batch_size=8, progress=None):
    """Runs `generate` (a function of a model-range batch) over a whole video.

    See `CycleGAN.translate` for the arguments. Returns an array with the
    input's leading shape, the generator's channels and the input's dtype.
    """
    video = check_video(video, channels)
    if video.ndim == 5:
        return np.stack(
            [translate(generate, v, rank, channels, window, overlap, batch_size, progress) for v in video]
        )
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if rank == 2:
        chunks = _framewise(generate, video, batch_size, progress)
    else:
        chunks = _windowed(generate, video, window, overlap, batch_size, progress)
    # Each chunk goes straight into one array: no list of chunks, no concatenated copy.
    out, done = None, 0
    for chunk in chunks:
        if out is None:
            out = np.empty((len(video),) + chunk.shape[1:], video.dtype)
        out[done : done + len(chunk)] = _from_model_range(chunk, video.dtype)
        done += len(chunk)
    return out


def per_call(count, batch_size):
    """Items per forward pass: `count` split evenly over the fewest passes of at most `batch_size`.

    Every pass gets this many (the last padded), so one video still compiles
    one shape, but the padding is under one item per pass instead of up to
    `batch_size - 1`: 17 windows at batch 8 run as 3 x 6, not 3 x 8 (1.3x less compute).
    """
    passes = -(-count // batch_size)
    return -(-count // passes)


def _full_batch(generate, batch, batch_size):
    """`generate` on `batch` padded (by repeating its last item) to `batch_size`: one compiled shape.

    Every layer works per sample (instance norm included), so the padding
    changes no real output.
    """
    count = len(batch)
    if 0 < count < batch_size:
        batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - count, axis=0)])
    return generate(batch)[:count]


def _framewise(generate, video, batch_size, progress):
    total = len(video)
    batch_size = per_call(total, batch_size)
    for start in range(0, total, batch_size):
        yield _full_batch(generate, _to_model_range(video[start : start + batch_size]), batch_size)
        if progress:
            progress(min(start + batch_size, total), total)


def _windowed(generate, video, window, overlap, batch_size, progress):
    """Yields the blended output in time order, frames final as soon as possible."""
    num_frames = len(video)
    if window is None or window < 1:
        raise ValueError(f"`window` must be a positive number of frames, got {window!r}.")
    if num_frames < window:
        # Mirror in time up to one window, translate it, keep the real frames.
        padded = np.pad(video, [(0, window - num_frames)] + [(0, 0)] * 3, mode="symmetric")
        yield generate(_to_model_range(padded[None]))[0][:num_frames]
        if progress:
            progress(1, 1)
        return
    overlap = window // 2 if overlap is None else int(overlap)
    if not 0 <= overlap < window:
        raise ValueError(f"`overlap` must be in [0, window={window}), got {overlap}.")
    margin = time_margin(num_frames, window, overlap)
    chunks = _windows(generate, video, window, overlap, batch_size, progress, margin)
    yield from _trimmed(chunks, margin, num_frames) if margin else chunks


def _mirrored(num_frames, margin):
    """Frame indices of the video mirrored in time by `margin` frames each side, edge frame not repeated."""
    index = np.abs(np.arange(-margin, num_frames + margin))
    return np.where(index >= num_frames, 2 * (num_frames - 1) - index, index)


def _trimmed(chunks, skip, keep):
    """The frames [skip, skip + keep) of a stream of (frames, ...) chunks."""
    for chunk in chunks:
        cut = min(skip, len(chunk))
        chunk, skip = chunk[cut:], skip - cut
        if keep <= 0:
            continue
        if len(chunk):
            yield chunk[:keep]
            keep -= len(chunk[:keep])


def _windows(generate, video, window, overlap, batch_size, progress, margin=0):
    """Tent-blended overlapping windows over the video mirrored by `margin` frames (indexed, not copied)."""
    frame_index = _mirrored(len(video), margin)
    num_frames = len(frame_index)
    starts = window_starts(num_frames, window, overlap)
    weights = tent_weights(window)[:, None, None, None]
    # Rolling buffers over frames [emitted, emitted + len(buffer)): bounded
    # by the frames that a batch of windows spans, not by the video length.
    accumulated = weighted = None
    emitted = 0
    batch_size = per_call(len(starts), batch_size)
    for first in range(0, len(starts), batch_size):
        batch_starts = starts[first : first + batch_size]
        clips = np.stack([_to_model_range(video[frame_index[s : s + window]]) for s in batch_starts])
        outputs = _full_batch(generate, clips, batch_size)
        end = batch_starts[-1] + window
        if accumulated is None:
            accumulated = np.zeros((0,) + outputs.shape[2:], np.float32)
            weighted = np.zeros((0, 1, 1, 1), np.float32)
        grow = end - emitted - len(accumulated)
        if grow > 0:
            accumulated = np.concatenate([accumulated, np.zeros((grow,) + accumulated.shape[1:], np.float32)])
            weighted = np.concatenate([weighted, np.zeros((grow, 1, 1, 1), np.float32)])
        for start, output in zip(batch_starts, outputs):
            accumulated[start - emitted : start - emitted + window] += weights * output
            weighted[start - emitted : start - emitted + window] += weights
        # Frames before the next window's start will receive nothing more.
        following = first + batch_size
        done = starts[following] if following < len(starts) else num_frames
        ready = done - emitted
        yield accumulated[:ready] / weighted[:ready]
        accumulated, weighted = accumulated[ready:], weighted[ready:]
        emitted = done
        if progress:
            progress(min(following, len(starts)), len(starts))
