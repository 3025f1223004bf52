"""Read videos, GIFs and folders of frames as uint8 (T, H, W, 3) arrays.

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

import av
import numpy as np

from keras_v2v.data import _tfio
from keras_v2v.data.channels import grey_into, to_channels  # noqa: F401 (to_channels: re-exported)
from keras_v2v.data.errors import DataError
from keras_v2v.data.headers import check_decodable_size, png_size
from keras_v2v.data.resize import resize_frames
from keras_v2v.utils.files import special_kind
from keras_v2v.utils.limits import max_bytes as byte_limit
from keras_v2v.utils.limits import over_limit_message

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
    kind = special_kind(path)
    if kind is not None:  # /dev/zero never ends and a FIFO blocks: refused by type, not by size
        raise DataError(path, f"expected a video or image file, found {kind}; save the data as a regular file")
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


def scaled_size(height, width, max_side):
    """(height, width) shrunk so the longer side is at most ``max_side`` (aspect kept, even sides).

    Even sides because H.264 (yuv420p) stores them without padding. Frames
    that already fit are left as they are.
    """
    if max_side is None or max(height, width) <= max_side:
        return int(height), int(width)
    scale = max_side / max(height, width)
    return max(2, 2 * round(height * scale / 2)), max(2, 2 * round(width * scale / 2))


def _to_rgb(frame, path, index, max_side=None):
    """One decoded frame -> uint8 (H, W, 3), downscaled while converting when ``max_side`` asks."""
    size = scaled_size(frame.height, frame.width, max_side)
    try:
        if size == (frame.height, frame.width):
            return frame.to_ndarray(format="rgb24")
        # swscale's area filter: no full-size RGB copy of a 4K frame.
        return frame.to_ndarray(format="rgb24", height=size[0], width=size[1], interpolation="AREA")
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


class _Frames:
    """Decoded frames written straight into one uint8 array in their final channel count.

    The array is sized once from what the headers say (frames expected, the
    first frame's size); no per-frame list is kept and nothing is stacked, so
    a read takes the decoded clip plus one frame. A file with more frames than
    it declared grows the array (by half) up to `allowed` frames.
    """

    def __init__(self, path, expected, allowed, channels, max_side, start):
        self.path, self.allowed, self.channels, self.max_side, self.start = path, allowed, channels, max_side, start
        self.capacity = max(1, min(expected or 16, allowed or expected or 16))
        self.array, self.count = None, 0

    def __len__(self):
        return self.count

    def add(self, frame, index):
        if self.allowed is not None and self.count >= self.allowed:
            raise _over_budget(self.path, self.allowed, self.array.shape[1:3] + (3,))
        rgb = _to_rgb(frame, self.path, index, self.max_side)
        if self.array is None:
            self.array = np.empty((self.capacity, *rgb.shape[:2], self.channels or 3), np.uint8)
        elif rgb.shape[:2] != self.array.shape[1:3]:
            h, w = self.array.shape[1:3]
            raise DataError(self.path, f"frame size changed mid-stream: frame {self.start} is {w}x{h}, "
                                       f"frame {self.start + self.count} is {rgb.shape[1]}x{rgb.shape[0]}")
        if self.count == len(self.array):
            more = max(1, len(self.array) // 2)
            if self.allowed is not None:
                more = min(more, self.allowed - self.count)
            self.array = np.concatenate([self.array, np.empty((more, *self.array.shape[1:]), np.uint8)])
        if self.channels == 1:
            grey_into(self.array[self.count], rgb)
        else:
            self.array[self.count] = rgb
        self.count += 1

    def result(self):
        """The frames read: the array itself when it was sized right, else the filled part (copied when much smaller)."""
        if self.count == len(self.array):
            return self.array
        return self.array[: self.count].copy() if self.count < len(self.array) // 2 else self.array[: self.count]


def _over_budget(path, allowed, size):
    return DataError(path, over_limit_message(
        f"reading more than {allowed} frames of {size[1]}x{size[0]}", (allowed + 1) * size[0] * size[1] * 3,
        allowed * size[0] * size[1] * 3, hint="read a window (start/stop, max_frames) or downscale (max_side)"))


def _read_sequential(path, start, stop, max_side=None, partial=False, allowed=None, out=None):
    """Decode from the first frame, counting frames; keep [start, stop) in `out` (a `_Frames`).

    ``partial``: a decoding error after some kept frames ends the read there
    (the count is then what decoded) instead of raising. ``allowed``: the most
    frames that fit the memory limit; one more raises.
    """
    out = out if out is not None else _Frames(path, None, allowed, None, max_side, start)
    with _open(path) as container:
        stream = _video_stream(container, path)
        declared = stream.frames
        count = 0
        try:
            for frame in _decoded(container, stream, path):
                if stop is not None and count >= stop:
                    break
                if count >= start:
                    out.add(frame, count)
                count += 1
        except DataError as error:
            if not (partial and out) or "memory" in error.problem:
                raise
            declared = 0  # what decoded is all there is
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


def _read_seeking(path, start, stop, max_side=None, allowed=None, out=None):
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
        out = out if out is not None else _Frames(path, len(wanted), allowed, None, max_side, start)
        got = []
        for frame in _decoded(container, stream, path):
            if frame.pts is None:
                return None
            if frame.pts < wanted[0]:
                continue  # between the keyframe and the window
            if frame.pts > wanted[-1]:
                break
            got.append(frame.pts)
            out.add(frame, start + len(out))
        if not got or got[0] != wanted[0]:
            return None  # the seek landed after the window's first frame
        if tuple(got) != wanted[: len(got)]:
            return None  # decoder output disagrees with the packet index
        # A short window means decoding ended early: the file is cut or corrupt.
        return out, start + len(out), max(stream.frames, len(stamps))


def _read_with_tfio(path):
    try:
        with open(path, "rb") as fh:
            frames = _tfio.decode_video(fh.read())
    except Exception:  # tensorflow-io failing on a file is not fatal: PyAV decides
        return None
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[-1] != 3:
        return None
    return frames


def count_packets(path):
    """Frames in a file whose header declares no count (GIF, some MKV/WebM), by demuxing (no decoding); None if unsure."""
    try:
        with _open(path) as container:
            stream = _video_stream(container, path)
            return sum(1 for packet in container.demux(stream) if packet.size)
    except (DataError, *_DECODE_ERRORS):
        return None


def _frames_allowed(path, start, stop, max_side, limit, channels=3):
    """(frames that fit in `limit` bytes, frames expected); raises before decoding when the headers say too many."""
    info = probe_video(path)
    height, width = scaled_size(info.height, info.width, max_side)
    source = info.height * info.width * 3
    if source > limit:
        raise DataError(path, over_limit_message(f"decoding one {info.width}x{info.height} frame", source, limit))
    frame = height * width * channels
    declared = info.frames or count_packets(path) or 0
    end = stop if declared == 0 else min(stop or declared, declared)
    if end is not None and (end - start) * frame > limit:
        raise DataError(path, over_limit_message(
            f"reading {end - start} frames of {width}x{height}", (end - start) * frame, limit,
            hint="read a window (start/stop, max_frames) or downscale (max_side)"))
    return max(1, limit // frame), (None if end is None else max(1, end - start))


def read_video(path, start=0, stop=None, *, max_frames=None, max_side=None, partial=False, max_bytes=None,
               channels=None):
    """Read frames ``[start, stop)`` of a video file (or frame folder).

    Args:
        path: a video file, or a folder of PNG/JPEG frames (see ``read_frames``).
        start: first frame index (0-based, presentation order).
        stop: one past the last frame; None reads to the end.
        max_frames: read at most this many frames (a shorter video is not an error).
        max_side: downscale each frame while decoding so that its longer side is
            at most this many pixels (see ``scaled_size``); memory stays bounded
            for 4K clips. None keeps the stored size.
        partial: return the frames that decode when the file stops decoding
            part-way (truncated or corrupt) instead of raising; a file with no
            decodable frame still raises.
        max_bytes: the most memory the decoded frames may take (default 2 GiB,
            or KERAS_V2V_MAX_DECODED_BYTES). What the headers declare is checked
            before any pixel is decoded; files that declare no frame count are
            stopped as soon as they pass the limit.
        channels: 1 for grey (ITU-R BT.601 luma, as ``to_channels``), 3 (the
            default) for RGB. Frames are converted as they are decoded, into
            one array sized from the headers: a read takes the clip in its
            final form plus one frame.

    Returns:
        uint8 array (T, H, W, channels).

    Raises:
        DataError: missing, empty, unreadable, truncated or corrupt file, no
            video stream, no decodable frames, or fewer frames than ``stop``.
    """
    path = _check_file(path)
    if os.path.isdir(path):
        return read_frames(path, start, stop, max_frames=max_frames, max_side=max_side, max_bytes=max_bytes,
                           channels=channels)
    if max_side is not None and (not isinstance(max_side, (int, np.integer)) or max_side < 2):
        raise ValueError(f"read of {path}: `max_side` must be an int >= 2, got {max_side!r}")
    _check_channels(path, channels)
    at_most = max_frames is not None
    start, stop = _check_window(path, start, stop, max_frames)
    allowed, expected = _frames_allowed(path, start, stop, max_side, byte_limit(max_bytes), channels or 3)

    if start == 0 and stop is None and max_side is None and _tfio.video_ops_available():
        frames = _read_with_tfio(path)
        if frames is not None:
            return to_channels(frames, channels or 3)

    def sink():
        return _Frames(path, expected, allowed, channels, max_side, start)

    # A partial read decodes front to back, so an error mid-file ends it cleanly.
    result = _read_seeking(path, start, stop, max_side, allowed, sink()) if start > 0 and not partial else None
    if result is None:
        result = _read_sequential(path, start, stop, max_side, partial, allowed, sink())
    frames, count, declared = result

    if count == 0:
        raise DataError(path, "no decodable video frames")
    reached_end = stop is None or count < stop
    if reached_end and declared and count < declared:
        raise DataError(
            path,
            f"truncated or corrupt: the header declares {declared} frames but only "
            f"{count} decode (read_video(path, 0, {count}) reads those)",
        )
    if stop is not None and count < stop and not (at_most or partial):
        raise DataError(
            path,
            f"requested frames [{start}, {stop}) but the video has only {count} "
            "decodable frames",
        )
    if not frames:
        raise DataError(
            path, f"requested frames from {start} but the video has only {count} frames"
        )
    return frames.result()


def _check_channels(path, channels):
    if channels not in (None, 1, 3):
        raise ValueError(f"read of {path}: `channels` must be 1 (grey) or 3 (RGB), got {channels!r}")


def probe_video(path):
    """What a video file's headers declare, without decoding a frame.

    Returns a ``VideoInfo`` whose ``frames`` is 0 when the container declares
    no count (GIF, some MKV/WebM) and ``fps`` None when it declares no rate.
    Readers check these sizes before they decode, so a tiny file that
    declares huge frames is refused before any pixel is decoded.
    """
    path = _check_file(path)
    if os.path.isdir(path):
        return video_info(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = _frame_rate(stream)
        context = stream.codec_context  # None when FFmpeg has no decoder for the stream
        height, width = (context.height, context.width) if context is not None else (0, 0)
        frames = int(stream.frames or 0)
    if not height or not width:  # PNG and rare streams state their size only in the first frame
        height, width = png_size(path) or (0, 0)
        check_decodable_size(path, height, width)
    if not height or not width:
        decoded = video_info(path)
        height, width = decoded.height, decoded.width
    check_decodable_size(path, height, width)
    return VideoInfo(frames, float(rate) if rate else None, int(height), int(width))


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
    check_decodable_size(path, *(png_size(path) or (0, 0)))
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


def read_frames(folder, start=0, stop=None, *, max_frames=None, max_side=None, max_bytes=None, channels=None):
    """Read frames ``[start, stop)`` of a folder of PNG/JPEG images -> uint8 (T, H, W, channels).

    ``max_frames``, ``max_side``, ``max_bytes`` and ``channels`` work as in
    ``read_video`` (the first image's header sets the size checked against the
    limit). Each image is decoded, downscaled and converted on its own, into
    one array sized up front.
    """
    files = list_frames(folder)
    _check_channels(folder, channels)
    at_most = max_frames is not None
    start, stop = _check_window(folder, start, stop, max_frames)
    end = len(files) if stop is None else (min(stop, len(files)) if at_most else stop)
    if end > len(files) or start >= len(files):
        raise DataError(
            folder,
            f"requested frames [{start}, {end}) but the folder has {len(files)} frames",
        )
    first = probe_video(files[start])
    limit = byte_limit(max_bytes)
    size = scaled_size(first.height, first.width, max_side)
    # The frames in their final size, plus one image decoded at full size.
    need = (end - start) * size[0] * size[1] * (channels or 3) + first.height * first.width * 3
    if need > limit:
        raise DataError(folder, over_limit_message(
            f"reading {end - start} images of {first.width}x{first.height}", need, limit,
            hint="read fewer frames (start/stop, max_frames) or downscale (max_side)"))
    return read_image_files(files[start:end], size=size, channels=channels)


def read_image_files(files, size=None, channels=None):
    """Read a list of PNG/JPEG files as one uint8 (T, H, W, channels) video; sizes must match.

    ``size``: (height, width) to downscale each image to as it is read (the
    first image's size when None); ``channels``: 1 or 3 (default).
    """
    out = None
    for index, name in enumerate(files):
        image = _read_image(name)
        if out is None:
            first, size = image.shape, tuple(size or image.shape[:2])
            out = np.empty((len(files), *size, channels or 3), np.uint8)
        if image.shape != first:
            raise DataError(
                name,
                f"frame is {image.shape[1]}x{image.shape[0]} but {files[0]} is "
                f"{first[1]}x{first[0]}; all frames of a video must match",
            )
        if image.shape[:2] != size:
            image = resize_frames(image, size)
        if channels == 1:
            grey_into(out[index], image)
        else:
            out[index] = image
    return out
