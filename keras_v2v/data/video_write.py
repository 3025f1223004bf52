"""Write videos, GIFs and folders of PNG frames from uint8, bool or float arrays.

Writers (all atomic through ``keras_v2v.utils.files.atomic_path``: a temporary
sibling of the target, fsynced, then renamed into place; a failed write leaves
the old target untouched, and a killed one leaves a hidden temporary sibling that
the next write to the same target removes):

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
"""

import fractions
import io
import os

import av
import numpy as np

from keras_v2v.utils.files import atomic_path, check_output_path
from keras_v2v.data.errors import DataError
from keras_v2v.data.video_io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, WRITE_SUFFIXES




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


def validated_frames(frames, name="frames"):
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


# A tEXt chunk (Pillow's PngInfo) marks the PNGs keras-v2v wrote, so a frame folder is
# replaced only when every file in it is one of ours (never a user's photos).
_MARK = ("Software", "keras-v2v")


def _encode_png(frame):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(*_MARK)
    buffer = io.BytesIO()
    Image.fromarray(frame, "RGB").save(buffer, format="PNG", pnginfo=info, compress_level=6)
    return buffer.getvalue()


def is_our_frame(path):
    """True for a PNG that keras-v2v wrote (it carries our tEXt mark)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:  # reads the chunks before the pixels, not the pixels
            return image.format == "PNG" and image.info.get(_MARK[0]) == _MARK[1]
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return False  # not an image, or one too large to be a frame we wrote: not ours


def _check_frame_folder_target(path):
    """Refuses a frame-folder target that is a file, or a folder holding anything keras-v2v did not write."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError(
            f"write_video: {path} has no video suffix, so it names a folder of PNG "
            "frames, but a file of that name exists"
        )
    if os.path.isdir(path):
        foreign = sorted(n for n in os.listdir(path) if not is_our_frame(os.path.join(path, n)))
        if foreign:
            raise ValueError(
                f"write_video: {path} is a folder holding non-image files or images keras-v2v did not "
                f"write ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); refusing to "
                "replace it. Name a new folder (or a file such as out.mp4)"
            )


def write_image(path, image):
    """Write one (H, W, 3|1) image as PNG, atomically."""
    frame = as_uint8_frame(image, "image")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
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


def check_target(path):
    """Refuses, before any work, an output `write_video` would refuse: returns the format it would write."""
    path = os.fspath(path)
    check_output_path(path, "output")
    suffix = os.path.splitext(path)[1].lower()
    if suffix in WRITE_SUFFIXES or suffix == ".m4v":
        if os.path.isdir(path):
            raise ValueError(f"the output {path} is a folder; name a file such as out{suffix}")
        return suffix
    if suffix in VIDEO_SUFFIXES or suffix in IMAGE_SUFFIXES:
        raise ValueError(
            f"write_video: cannot write {path}: supported suffixes are "
            f"{', '.join(WRITE_SUFFIXES)}, or no suffix for a PNG folder"
        )
    _check_frame_folder_target(path)
    return "frames"


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
        only if it holds nothing but frames keras-v2v wrote. An empty path, the
        current folder and the folders that hold it are refused.
    """
    path = os.fspath(path)
    check_output_path(path, "write_video output")
    suffix = os.path.splitext(path)[1].lower()
    frames = validated_frames(frames)
    if suffix in (".mp4", ".mov", ".mkv", ".m4v"):
        options = {"crf": str(crf), "preset": "medium"}
        if keyframe_interval:
            options["g"] = str(int(keyframe_interval))
        # faststart: index at the front, so players (and truncated copies) can stream it.
        muxer = {} if suffix == ".mkv" else {"movflags": "+faststart"}
        with atomic_path(path) as tmp:
            _write_ffmpeg(tmp, frames, fps, "libx264", options, muxer)
    elif suffix == ".webm":
        options = {"crf": str(crf + 12), "b": "0", "deadline": "good", "cpu-used": "4"}
        if keyframe_interval:
            options["g"] = str(int(keyframe_interval))
        with atomic_path(path) as tmp:
            _write_ffmpeg(tmp, frames, fps, "libvpx-vp9", options)
    elif suffix == ".gif":
        with atomic_path(path) as tmp:
            _write_gif(tmp, frames, fps)
    elif suffix in VIDEO_SUFFIXES or suffix in IMAGE_SUFFIXES:
        raise ValueError(
            f"write_video: cannot write {path}: supported suffixes are "
            f"{', '.join(WRITE_SUFFIXES)}, or no suffix for a PNG folder"
        )
    else:
        _check_frame_folder_target(path)
        with atomic_path(path, is_dir=True) as tmp:
            _write_png_folder(tmp, frames, prefix)
    return path


def write_frames(folder, frames, *, prefix="frame_"):
    """Write frames as ``<prefix>00000.png, ...`` into ``folder`` (atomic swap)."""
    folder = os.fspath(folder)
    if os.path.splitext(folder)[1].lower() in VIDEO_SUFFIXES:
        raise ValueError(f"write_frames: {folder} looks like a video file, not a folder")
    return write_video(folder, frames, prefix=prefix)
