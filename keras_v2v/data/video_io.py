"""Read and write videos, GIFs and folders of frames as uint8 (T, H, W, 3) arrays.

Reading goes through PyAV (FFmpeg), so anything FFmpeg demuxes works: .mp4,
.mov, .avi, .mkv, .webm, .gif, ... ``read_video(path, start, stop)`` reads a
time window without decoding the whole file: it seeks to the keyframe at or
before ``start``, decodes forward and stops at ``stop``. Frame ``i`` is the
``i``-th frame in presentation order, i.e. the one with the ``i``-th smallest
packet timestamp; the timestamps come from one demux pass per file (no
decoding; cached per file path, size and mtime), so variable frame rates are
indexed exactly. Whenever the decoder disagrees with that index, or there is
no usable index (GIF, missing timestamps), the reader decodes from the first
frame and counts instead, so a window always equals the same slice of a full
decode.

Where tensorflow-io's native video op works (see ``_tfio``), whole-file reads
use it; everywhere else, including TensorFlow 2.21 where it does not load,
PyAV does the work.

Writers (all atomic: a temporary file in the destination folder, then
``os.replace``, so a failed write never leaves a partial file):

- ``.mp4`` / ``.mov`` / ``.mkv``: H.264 (libx264), yuv420p. yuv420p needs even
  sizes, so odd heights/widths are padded by one row/column that repeats the
  edge (a 33x47 video is stored, and read back, as 34x48).
- ``.webm``: VP9, yuv420p, same padding.
- ``.gif``: each frame gets its own palette; frames with at most 256 colours
  are stored exactly, others are quantised (Pillow's median cut when Pillow
  is installed, else a fixed 6x7x6 colour cube).
- any path without a video suffix: a folder of PNG frames
  ``frame_00000.png, ...``.

Writers accept uint8, bool, or float in [0, 1]; RGB (T, H, W, 3), grey
(T, H, W, 1) or (T, H, W); an array or any iterable of (H, W, C) frames.

Bad files raise ``DataError`` naming the file and the problem; nothing else
escapes the readers for bad input. Truncation is detected where the container
declares its frame count (MP4/MOV): reading such a file to the end raises.
MKV/WebM/GIF carry no count up front, so a cut copy reads as a shorter video.
"""

import dataclasses
import fractions
import functools
import os
import re
import shutil
import uuid

import av
import numpy as np

from keras_v2v.data import _tfio
from keras_v2v.data.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
WRITE_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".gif")

# Formats where frames carry no seekable index; read them front to back.
_NO_SEEK_FORMATS = ("gif", "image2", "png_pipe", "jpeg_pipe", "apng")

# Anything FFmpeg or the array conversion can throw on a corrupt file.
_DECODE_ERRORS = (
    av.FFmpegError,
    OSError,
    ValueError,
    EOFError,
    RuntimeError,
    IndexError,
    KeyError,
    OverflowError,
    ZeroDivisionError,
    MemoryError,
)


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a video holds: frame count, frame rate (None if unknown), size."""

    frames: int
    fps: float | None
    height: int
    width: int


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


def _check_file(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(path, "no such file or folder")
    if os.path.isdir(path):
        return path
    size = os.path.getsize(path)
    if size == 0:
        raise DataError(path, "file is empty (0 bytes)")
    return path


def _check_window(path, start, stop, max_frames):
    for name, value in (("start", start), ("stop", stop), ("max_frames", max_frames)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(
                f"read of {path}: `{name}` must be a non-negative int, got {value!r}"
            )
    if stop is not None and stop <= start:
        raise ValueError(
            f"read of {path}: empty window, expected stop > start, got "
            f"start={start}, stop={stop}"
        )
    if max_frames is not None:
        if max_frames == 0:
            raise ValueError(f"read of {path}: `max_frames` must be >= 1, got 0")
        stop = start + max_frames if stop is None else min(stop, start + max_frames)
    return int(start), (None if stop is None else int(stop))


def _open(path):
    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except _DECODE_ERRORS as e:
        raise DataError(path, f"cannot be opened as a video ({e})") from e


def _video_stream(container, path):
    if not container.streams.video:
        kinds = [s.type for s in container.streams]
        found = ", ".join(kinds) if kinds else "no streams at all"
        raise DataError(path, f"no video stream found (found: {found})")
    return container.streams.video[0]


def _frame_rate(stream):
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return fractions.Fraction(rate)
    return None


def _to_rgb(frame, path, index):
    try:
        return frame.to_ndarray(format="rgb24")
    except _DECODE_ERRORS as e:
        raise DataError(path, f"frame {index} could not be converted to RGB ({e})") from e


def _guarded(items, path, what):
    """Yield from an FFmpeg iterator (decode, demux), turning its errors into DataError."""
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except _DECODE_ERRORS as e:
            raise DataError(path, f"{what} failed, file truncated or corrupt ({e})") from e
        yield item


def _decoded(container, stream, path):
    """Yield decoded frames, turning FFmpeg errors into DataError."""
    return _guarded(container.decode(stream), path, "decoding")


def _read_sequential(path, start, stop):
    """Decode from the first frame, counting frames; keep [start, stop)."""
    out = []
    with _open(path) as container:
        stream = _video_stream(container, path)
        declared = stream.frames
        count = 0
        for frame in _decoded(container, stream, path):
            if stop is not None and count >= stop:
                break
            if count >= start:
                out.append(_to_rgb(frame, path, count))
            count += 1
    return out, count, declared


def _scan_timestamps(path):
    """Presentation timestamps of every frame, by demuxing (no decoding).

    None when they cannot index frames (missing or duplicate timestamps).
    """
    stamps = []
    with _open(path) as container:
        stream = _video_stream(container, path)
        if container.format.name.split(",")[0] in _NO_SEEK_FORMATS:
            return None
        for packet in _guarded(container.demux(stream), path, "demuxing"):
            if packet.size == 0 or getattr(packet, "is_discard", False):
                continue  # flush packets; frames an edit list hides
            if packet.pts is None:
                return None
            stamps.append(packet.pts)
    stamps.sort()
    if len(set(stamps)) != len(stamps):
        return None
    return tuple(stamps)


@functools.lru_cache(maxsize=256)
def _timestamps_cached(path, size, mtime_ns):
    return _scan_timestamps(path)


def _frame_timestamps(path):
    """``_scan_timestamps`` cached per file version, so repeated window reads demux once."""
    st = os.stat(path)
    return _timestamps_cached(os.path.abspath(path), st.st_size, st.st_mtime_ns)


def _read_seeking(path, start, stop):
    """Seek to the keyframe before frame ``start`` and decode to ``stop``.

    Frames are identified by timestamp (frame i = i-th smallest packet
    timestamp), which stays exact for variable frame rates. Returns None when
    the decoded timestamps disagree with that index; the caller then counts
    frames from the start instead.
    """
    stamps = _frame_timestamps(path)
    if stamps is None or start >= len(stamps):
        return None
    wanted = stamps[start : len(stamps) if stop is None else min(stop, len(stamps))]
    with _open(path) as container:
        stream = _video_stream(container, path)
        try:
            container.seek(wanted[0], stream=stream, backward=True, any_frame=False)
        except _DECODE_ERRORS:
            return None
        out, got = [], []
        for frame in _decoded(container, stream, path):
            if frame.pts is None:
                return None
            if frame.pts < wanted[0]:
                continue  # between the keyframe and the window
            if frame.pts > wanted[-1]:
                break
            got.append(frame.pts)
            out.append(_to_rgb(frame, path, start + len(out)))
        if not got or got[0] != wanted[0]:
            return None  # the seek landed after the window's first frame
        if tuple(got) != wanted[: len(got)]:
            return None  # decoder output disagrees with the packet index
        # A short window means decoding ended early: the file is cut or corrupt.
        return out, start + len(out), max(stream.frames, len(stamps))


def _stack(path, frames, start):
    shape = frames[0].shape
    for k, f in enumerate(frames):
        if f.shape != shape:
            raise DataError(
                path,
                f"frame size changed mid-stream: frame {start} is "
                f"{shape[1]}x{shape[0]}, frame {start + k} is {f.shape[1]}x{f.shape[0]}",
            )
    return np.stack(frames).astype(np.uint8, copy=False)


def _read_with_tfio(path):
    try:
        with open(path, "rb") as fh:
            frames = _tfio.decode_video(fh.read())
    except Exception:  # tensorflow-io failing on a file is not fatal: PyAV decides
        return None
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[-1] != 3:
        return None
    return frames


def read_video(path, start=0, stop=None, *, max_frames=None):
    """Read frames ``[start, stop)`` of a video file (or frame folder).

    Args:
        path: a video file, or a folder of PNG/JPEG frames (see ``read_frames``).
        start: first frame index (0-based, presentation order).
        stop: one past the last frame; None reads to the end.
        max_frames: read at most this many frames.

    Returns:
        uint8 array (T, H, W, 3).

    Raises:
        DataError: missing, empty, unreadable, truncated or corrupt file, no
            video stream, no decodable frames, or fewer frames than ``stop``.
    """
    path = _check_file(path)
    if os.path.isdir(path):
        return read_frames(path, start, stop, max_frames=max_frames)
    start, stop = _check_window(path, start, stop, max_frames)

    if start == 0 and stop is None and _tfio.video_ops_available():
        frames = _read_with_tfio(path)
        if frames is not None:
            return frames

    result = _read_seeking(path, start, stop) if start > 0 else None
    if result is None:
        result = _read_sequential(path, start, stop)
    frames, count, declared = result

    if count == 0:
        raise DataError(path, "no decodable video frames")
    if stop is None and declared and count < declared:
        raise DataError(
            path,
            f"truncated or corrupt: the header declares {declared} frames but only "
            f"{count} decode (read_video(path, 0, {count}) reads those)",
        )
    if stop is not None and count < stop:
        raise DataError(
            path,
            f"requested frames [{start}, {stop}) but the video has only {count} "
            "decodable frames",
        )
    if not frames:
        raise DataError(
            path, f"requested frames from {start} but the video has only {count} frames"
        )
    return _stack(path, frames, start)


def video_info(path):
    """Frame count, fps, height and width of a video file or frame folder.

    The count comes from the container header when it has one, else from
    decoding every frame (GIF, some MKV/WebM). The first frame is always
    decoded, so a file that passes here is at least partly decodable.
    """
    path = _check_file(path)
    if os.path.isdir(path):
        files = list_frames(path)
        first = _read_image(files[0])
        return VideoInfo(len(files), None, first.shape[0], first.shape[1])
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = _frame_rate(stream)
        declared = stream.frames
        decoded = _decoded(container, stream, path)
        first = next(decoded, None)
        if first is None:
            raise DataError(path, "no decodable video frames")
        height, width = first.height, first.width
        frames = declared
        if frames <= 0:
            frames = 1 + sum(1 for _ in decoded)
    return VideoInfo(int(frames), float(rate) if rate else None, int(height), int(width))


# --------------------------------------------------------------------------
# Frame folders
# --------------------------------------------------------------------------


def natural_key(name):
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def list_frames(folder):
    """PNG/JPEG files in ``folder``, sorted naturally; DataError if none."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataError(folder, "expected a folder of PNG/JPEG frames, found no folder")
    names = [
        n
        for n in os.listdir(folder)
        if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")
    ]
    if not names:
        raise DataError(folder, "folder holds no .png/.jpg/.jpeg frames")
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]


def _read_image(path, *, mode="rgb"):
    """One PNG/JPEG -> uint8 (H, W, 3); ``mode="label"`` returns grey images as (H, W) values."""
    path = _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        frame = next(_decoded(container, stream, path), None)
        if frame is None:
            raise DataError(path, "image holds no decodable picture")
        if mode == "label" and frame.format.name in ("gray", "gray8"):
            return frame.to_ndarray()
        return _to_rgb(frame, path, 0)  # palette images expand to their colours


def read_image(path):
    """Read one PNG/JPEG image as uint8 (H, W, 3) (grey and palette expanded)."""
    return _read_image(path)


def read_frames(folder, start=0, stop=None, *, max_frames=None):
    """Read frames ``[start, stop)`` of a folder of PNG/JPEG images -> uint8 (T, H, W, 3)."""
    files = list_frames(folder)
    start, stop = _check_window(folder, start, stop, max_frames)
    end = len(files) if stop is None else stop
    if end > len(files) or start >= len(files):
        raise DataError(
            folder,
            f"requested frames [{start}, {end}) but the folder has {len(files)} frames",
        )
    return read_image_files(files[start:end])


def read_image_files(files):
    """Read a list of PNG/JPEG files as one uint8 (T, H, W, 3) video; sizes must match."""
    frames = [_read_image(f) for f in files]
    shape = frames[0].shape
    for f, name in zip(frames, files):
        if f.shape != shape:
            raise DataError(
                name,
                f"frame is {f.shape[1]}x{f.shape[0]} but {files[0]} is "
                f"{shape[1]}x{shape[0]}; all frames of a video must match",
            )
    return np.stack(frames)


# --------------------------------------------------------------------------
# Resizing (shared by the sampler, GTA reader, volume reader)
# --------------------------------------------------------------------------


def _resample_axis(x, axis, size, method):
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
        out = _resample_axis(frames, frames.ndim - 3, height, "nearest")
        return _resample_axis(out, frames.ndim - 2, width, "nearest")
    x = frames.astype(np.float32)
    x = _resample_axis(x, x.ndim - 3, height, method)
    x = _resample_axis(x, x.ndim - 2, width, method)
    if frames.dtype == np.uint8:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)
    return x.astype(np.float32)


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def as_uint8_frame(frame, name="frames"):
    """Validate one frame -> uint8 (H, W, 3); grey is broadcast to RGB.

    Accepts uint8, bool, other ints in [0, 255], floats in [0, 1].
    """
    a = np.asarray(frame)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise DataError(
            name,
            "expected frames of shape (H, W, 3) or (H, W, 1) (or (H, W) grey), "
            f"found a frame of shape {a.shape}",
        )
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise DataError(name, f"frame has an empty side: shape {a.shape}")
    if a.dtype == np.uint8:
        pass
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() > 255:
            raise DataError(
                name,
                f"integer frames must lie in [0, 255], found [{a.min()}, {a.max()}]",
            )
        a = a.astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise DataError(name, "float frames contain NaN or infinity")
        lo, hi = float(a.min()), float(a.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            hint = " (model outputs in [-1, 1]? pass (x + 1) / 2)" if lo >= -1 - 1e-3 else ""
            raise DataError(
                name, f"float frames must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]{hint}"
            )
        a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    else:
        raise DataError(name, f"expected a numeric array, found dtype {a.dtype}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a)


def _iter_frames(frames, name="frames"):
    """Yield validated uint8 (H, W, 3) frames from an array or iterable; sizes must match."""
    if isinstance(frames, np.ndarray) or hasattr(frames, "__array__"):
        frames = np.asarray(frames)
        if frames.ndim not in (3, 4):
            raise DataError(
                name,
                "expected a video of shape (T, H, W, C) or (T, H, W), "
                f"found shape {frames.shape}",
            )
        if frames.shape[0] == 0:
            raise DataError(name, "video has zero frames")
    shape = None
    for k, frame in enumerate(frames):
        f = as_uint8_frame(frame, name)
        if shape is None:
            shape = f.shape
        elif f.shape != shape:
            raise DataError(
                name, f"frame {k} has shape {f.shape}, frame 0 has shape {shape}"
            )
        yield f


def _fps_fraction(fps):
    if not fps or fps <= 0:
        raise ValueError(f"write_video: `fps` must be positive, got {fps!r}")
    return fractions.Fraction(fps).limit_denominator(1001)


class _AtomicPath:
    """Context manager yielding a temp path next to ``path``; renamed into place on success.

    Missing parent folders are created.
    """

    def __init__(self, path, is_dir=False):
        self.path = os.path.abspath(os.fspath(path))
        self.is_dir = is_dir
        parent, base = os.path.split(self.path)
        root, ext = _split_ext(base)
        # Keep the suffix: FFmpeg and nibabel choose the format from it.
        self.tmp = os.path.join(parent, f".{root}.tmp-{uuid.uuid4().hex[:8]}{ext}")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            if os.path.isdir(self.tmp):
                shutil.rmtree(self.tmp, ignore_errors=True)
            elif os.path.exists(self.tmp):
                os.remove(self.tmp)
            return False
        if self.is_dir and os.path.isdir(self.path):
            # Swap folders: move the old one aside first so a crash never mixes them.
            old = self.tmp + ".old"
            os.replace(self.path, old)
            os.replace(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.path)
        return False


def _split_ext(name):
    for ext in (".nii.gz",):
        if name.lower().endswith(ext):
            return name[: -len(ext)], name[-len(ext) :]
    return os.path.splitext(name)


def _pad_even(frame):
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frame


def _encode(container, stream, frames, to_video_frame):
    """Encodes frames into `stream`, sizing it from the first frame; flushes."""
    opened = False
    for frame in frames:
        if not opened:
            stream.height, stream.width = frame.shape[:2]
            opened = True
        for packet in stream.encode(to_video_frame(frame)):
            container.mux(packet)
    if not opened:
        raise DataError("frames", "video has zero frames")
    for packet in stream.encode():
        container.mux(packet)


def _write_ffmpeg(tmp, frames, fps, codec, options, container_options=None):
    with av.open(tmp, mode="w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=_fps_fraction(fps))
        stream.pix_fmt = "yuv420p"
        stream.options = options
        even = (_pad_even(frame) for frame in frames)
        _encode(container, stream, even, lambda f: av.VideoFrame.from_ndarray(f, format="rgb24"))


def _quantize(frame):
    """(H, W, 3) uint8 -> (indices uint8 (H, W), palette (n, 3) uint8), n <= 256."""
    flat = frame.reshape(-1, 3)
    # Pack RGB into one int: 1-D unique is much faster than unique rows.
    packed = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    values, inverse = np.unique(packed, return_inverse=True)
    if len(values) <= 256:
        colors = np.stack([values >> 16, (values >> 8) & 255, values & 255], -1).astype(np.uint8)
        return inverse.reshape(frame.shape[:2]).astype(np.uint8), colors
    try:
        from PIL import Image
    except ImportError:
        # Fixed 6x7x6 colour cube (252 colours): crude but dependency-free.
        levels = np.array([6, 7, 6])
        q = np.rint(flat.astype(np.float32) / 255.0 * (levels - 1)).astype(np.int64)
        idx = (q[:, 0] * 7 + q[:, 1]) * 6 + q[:, 2]
        grid = np.stack(
            np.meshgrid(*[np.linspace(0, 255, n) for n in levels], indexing="ij"), -1
        )
        return idx.reshape(frame.shape[:2]).astype(np.uint8), np.rint(
            grid.reshape(-1, 3)
        ).astype(np.uint8)
    image = Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT)
    palette = np.array(image.getpalette()[: 256 * 3], np.uint8).reshape(-1, 3)
    return np.asarray(image, np.uint8), palette


def _pal8_frame(frame):
    indices, colors = _quantize(frame)
    palette = np.zeros((256, 4), np.uint8)
    palette[: len(colors), 0] = 255  # ARGB: opaque
    palette[: len(colors), 1:] = colors
    return av.VideoFrame.from_ndarray((indices, palette), format="pal8")


def _write_gif(tmp, frames, fps):
    with av.open(tmp, mode="w", format="gif") as container:
        stream = container.add_stream("gif", rate=_fps_fraction(fps))
        stream.pix_fmt = "pal8"
        _encode(container, stream, frames, _pal8_frame)


def _encode_png(frame):
    codec = av.CodecContext.create("png", "w")
    codec.height, codec.width = frame.shape[:2]
    codec.pix_fmt = "rgb24"
    packets = codec.encode(av.VideoFrame.from_ndarray(frame, format="rgb24"))
    packets += codec.encode(None)
    return b"".join(bytes(p) for p in packets)


def write_image(path, image):
    """Write one (H, W, 3|1) image as PNG, atomically."""
    frame = as_uint8_frame(image, "image")
    with _AtomicPath(path) as tmp, open(tmp, "wb") as fh:
        fh.write(_encode_png(frame))
    return os.fspath(path)


def _write_png_folder(tmp, frames, prefix):
    os.mkdir(tmp)
    count = 0
    for count, frame in enumerate(frames, start=1):
        with open(os.path.join(tmp, f"{prefix}{count - 1:05d}.png"), "wb") as fh:
            fh.write(_encode_png(frame))
    if count == 0:
        raise DataError("frames", "video has zero frames")


def write_video(path, frames, fps=30, *, crf=18, keyframe_interval=None, prefix="frame_"):
    """Write frames to ``path``; the suffix picks the format (see module doc).

    Args:
        path: ``.mp4``/``.mov``/``.mkv`` (H.264), ``.webm`` (VP9), ``.gif``, or
            any other path (no video suffix) for a folder of PNG frames.
        frames: (T, H, W, 3|1) or (T, H, W) array, or an iterable of frames;
            uint8, bool or float in [0, 1].
        fps: frames per second (ignored for PNG folders).
        crf: quality for H.264/VP9, lower is better (18 is visually lossless).
        keyframe_interval: frames between keyframes (shorter = faster seeking);
            None keeps the encoder default.
        prefix: file name prefix for PNG frames.

    Returns:
        ``path``. An existing file is replaced; an existing folder is replaced
        only if it holds nothing but image files.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    frames = _iter_frames(frames)
    if suffix in (".mp4", ".mov", ".mkv", ".m4v"):
        options = {"crf": str(crf), "preset": "medium"}
        if keyframe_interval:
            options["g"] = str(int(keyframe_interval))
        # faststart: index at the front, so players (and truncated copies) can stream it.
        muxer = {} if suffix == ".mkv" else {"movflags": "+faststart"}
        with _AtomicPath(path) as tmp:
            _write_ffmpeg(tmp, frames, fps, "libx264", options, muxer)
    elif suffix == ".webm":
        options = {"crf": str(crf + 12), "b": "0", "deadline": "good", "cpu-used": "4"}
        if keyframe_interval:
            options["g"] = str(int(keyframe_interval))
        with _AtomicPath(path) as tmp:
            _write_ffmpeg(tmp, frames, fps, "libvpx-vp9", options)
    elif suffix == ".gif":
        with _AtomicPath(path) as tmp:
            _write_gif(tmp, frames, fps)
    elif suffix in VIDEO_SUFFIXES or suffix in IMAGE_SUFFIXES:
        raise ValueError(
            f"write_video: cannot write {path}: supported suffixes are "
            f"{', '.join(WRITE_SUFFIXES)}, or no suffix for a PNG folder"
        )
    else:
        if os.path.isfile(path):
            raise ValueError(
                f"write_video: {path} has no video suffix, so it names a folder of PNG "
                "frames, but a file of that name exists"
            )
        if os.path.isdir(path):
            others = [
                n for n in os.listdir(path) if not n.lower().endswith(IMAGE_SUFFIXES)
            ]
            if others:
                raise ValueError(
                    f"write_video: {path} is a folder holding non-image files "
                    f"({', '.join(sorted(others)[:3])}); refusing to replace it"
                )
        with _AtomicPath(path, is_dir=True) as tmp:
            _write_png_folder(tmp, frames, prefix)
    return path


def write_frames(folder, frames, *, prefix="frame_"):
    """Write frames as ``<prefix>00000.png, ...`` into ``folder`` (atomic swap)."""
    folder = os.fspath(folder)
    if os.path.splitext(folder)[1].lower() in VIDEO_SUFFIXES:
        raise ValueError(f"write_frames: {folder} looks like a video file, not a folder")
    return write_video(folder, frames, prefix=prefix)


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
        grey = video.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.clip(np.rint(grey), 0, 255).astype(video.dtype)[..., None]
    if have == 1 and channels == 3:
        return np.repeat(video, 3, axis=-1)
    raise ValueError(f"cannot convert {have} channels to {channels} (only grey <-> RGB)")
