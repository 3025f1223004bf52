"""Video sources: anything ``UnpairedVideoDataset`` can draw frames from.

A source is a sized collection of videos with three methods:

- ``len(source)``: number of videos;
- ``source.num_frames(i)``: frames in video ``i``;
- ``source.read(i, start, stop)``: frames ``[start, stop)`` of video ``i`` as
  (T, H, W, C), uint8 in [0, 255] or float in [0, 1].

An optional ``value_range`` attribute, e.g. ``(0, 255)``, overrides the range
the sampler assumes from the dtype.

Implementations: ``ArraySource`` (in-memory arrays), ``VideoFileSource``
(video files read through ``video_io``), ``FrameFolderSource`` (folders of
PNG/JPEG frames). ``as_source`` wraps arrays and paths.
"""

import os
import warnings
from typing import Protocol, runtime_checkable

import numpy as np

from keras_v2v.data import video_io
from keras_v2v.data.errors import DataError


@runtime_checkable
class VideoSource(Protocol):
    """The protocol samplers draw from (see module doc)."""

    def __len__(self) -> int: ...

    def num_frames(self, i: int) -> int: ...

    def read(self, i: int, start: int, stop: int) -> np.ndarray: ...


def _check_index(source, i):
    n = len(source)
    if not 0 <= i < n:
        raise IndexError(f"{type(source).__name__}: video index {i} out of range [0, {n})")


def _check_window(source, i, start, stop):
    _check_index(source, i)
    n = source.num_frames(i)
    if not 0 <= start < stop <= n:
        raise IndexError(
            f"{type(source).__name__}: window [{start}, {stop}) of video {i} "
            f"is outside its {n} frames"
        )


class ArraySource:
    """Videos held in memory.

    Args:
        videos: array (N, T, H, W, C), or (N, T, H, W) for grey, or a list of
            (T_i, H, W, C) arrays of differing lengths.
        value_range: (lo, hi) of the values; None means (0, 255) for uint8
            and (0, 1) for floats.
    """

    def __init__(self, videos, value_range=None):
        if isinstance(videos, np.ndarray):
            if videos.ndim == 4:
                videos = videos[..., None]
            if videos.ndim != 5:
                raise ValueError(
                    "ArraySource: expected an array of shape (N, T, H, W, C) or "
                    f"(N, T, H, W), got shape {videos.shape}"
                )
            self._videos = list(videos)
        else:
            self._videos = []
            for k, v in enumerate(videos):
                v = np.asarray(v)
                if v.ndim == 3:
                    v = v[..., None]
                if v.ndim != 4:
                    raise ValueError(
                        f"ArraySource: video {k} must have shape (T, H, W, C), got {v.shape}"
                    )
                self._videos.append(v)
        if not self._videos:
            raise ValueError("ArraySource: no videos given (N = 0)")
        for k, v in enumerate(self._videos):
            if v.shape[0] == 0:
                raise ValueError(f"ArraySource: video {k} has zero frames")
            if v.dtype != np.uint8 and not np.issubdtype(v.dtype, np.floating):
                raise ValueError(
                    f"ArraySource: video {k} has dtype {v.dtype}; expected uint8 or float"
                )
        self.value_range = value_range

    def __len__(self):
        return len(self._videos)

    def num_frames(self, i):
        _check_index(self, i)
        return int(self._videos[i].shape[0])

    def read(self, i, start, stop):
        _check_window(self, i, start, stop)
        return self._videos[i][start:stop]

    def __repr__(self):
        return f"ArraySource({len(self)} videos, frame shape {self._videos[0].shape[1:]})"


def _expand_paths(paths, suffixes):
    """A path, folder or iterable of paths -> list of file paths (folders listed naturally)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p) and suffixes:
            names = sorted(
                (n for n in os.listdir(p) if n.lower().endswith(suffixes)),
                key=video_io.natural_key,
            )
            out.extend(os.path.join(p, n) for n in names)
        else:
            out.append(p)
    return out


class VideoFileSource:
    """Video files (any format PyAV reads), opened lazily on each read.

    Args:
        paths: a file, a folder (every video file in it), or an iterable of files.
        on_error: what to do with files that cannot be read at construction:
            "skip" (warn naming the file, drop it) or "raise" (``DataError``).
        min_frames: files with fewer frames count as bad (e.g. the clip length).

    Frame counts come from ``video_io.video_info`` (container header, or a
    decode count); a file whose header over-counts (truncated) still raises
    ``DataError`` when the sampler reaches the missing frames.
    """

    def __init__(self, paths, on_error="skip", min_frames=1):
        if on_error not in ("skip", "raise"):
            raise ValueError(f"VideoFileSource: `on_error` must be 'skip' or 'raise', got {on_error!r}")
        self.paths, self._frames = [], []
        for p in _expand_paths(paths, video_io.VIDEO_SUFFIXES):
            try:
                info = video_io.video_info(p)
                if info.frames < min_frames:
                    raise DataError(p, f"has {info.frames} frames, need at least {min_frames}")
            except DataError as e:
                if on_error == "raise":
                    raise
                warnings.warn(f"skipping unreadable video {e}", stacklevel=2)
                continue
            self.paths.append(p)
            self._frames.append(info.frames)
        if not self.paths:
            raise DataError(
                paths if isinstance(paths, (str, os.PathLike)) else "paths",
                "no readable video files",
            )

    def __len__(self):
        return len(self.paths)

    def num_frames(self, i):
        _check_index(self, i)
        return self._frames[i]

    def read(self, i, start, stop):
        _check_window(self, i, start, stop)
        return video_io.read_video(self.paths[i], start, stop)

    def __repr__(self):
        return f"VideoFileSource({len(self)} files)"


class FrameFolderSource:
    """Folders of PNG/JPEG frames, one folder per video.

    ``folders``: an iterable of folders, or one folder: if it holds images it
    is a single video, otherwise each sub-folder holding images is a video.
    """

    def __init__(self, folders):
        if isinstance(folders, (str, os.PathLike)):
            root = os.fspath(folders)
            if not os.path.isdir(root):
                raise DataError(root, "expected a folder of frames or of frame folders")
            has_images = any(n.lower().endswith(video_io.IMAGE_SUFFIXES) for n in os.listdir(root))
            if has_images:
                folders = [root]
            else:
                subs = sorted(os.listdir(root), key=video_io.natural_key)
                folders = [os.path.join(root, s) for s in subs if os.path.isdir(os.path.join(root, s))]
                if not folders:
                    raise DataError(root, "holds neither frames nor sub-folders of frames")
        self.folders = [os.fspath(f) for f in folders]
        self._files = [video_io.list_frames(f) for f in self.folders]
        if not self.folders:
            raise ValueError("FrameFolderSource: no folders given")

    def __len__(self):
        return len(self.folders)

    def num_frames(self, i):
        _check_index(self, i)
        return len(self._files[i])

    def read(self, i, start, stop):
        _check_window(self, i, start, stop)
        return video_io.read_image_files(self._files[i][start:stop])

    def __repr__(self):
        return f"FrameFolderSource({len(self)} folders)"


def as_source(obj):
    """Wrap ``obj`` as a source.

    Sources pass through; arrays and lists of arrays become ``ArraySource``;
    a path, or a list of paths, becomes ``VideoFileSource`` (video files, or a
    folder of them) or ``FrameFolderSource`` (folders of frames).
    """
    if isinstance(obj, VideoSource) and not isinstance(obj, (np.ndarray, list, tuple)):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if os.path.isdir(path) and not any(
            n.lower().endswith(video_io.VIDEO_SUFFIXES) for n in os.listdir(path)
        ):
            return FrameFolderSource(path)
        return VideoFileSource(path)
    if isinstance(obj, np.ndarray) or (
        isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], np.ndarray)
    ):
        return ArraySource(obj)
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], (str, os.PathLike)):
        if all(os.path.isdir(p) for p in obj):
            return FrameFolderSource(obj)  # one folder of frames per video
        return VideoFileSource(obj)
    raise TypeError(
        "expected a video source (len/num_frames/read), a numpy array "
        f"(N, T, H, W, C), or a path; got {type(obj).__name__}"
    )
