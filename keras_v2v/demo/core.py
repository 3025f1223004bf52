"""The Gradio demo: upload a clip, pick a preset and a direction, get the translation.

    keras-v2v demo [--host 127.0.0.1] [--port 7860] [--share]
    python apps/app.py                      # the same app, as a Hugging Face Space runs it

The page gives the translated video, a side-by-side view (input | output |
2D baseline) and a plot of temporal consistency: the mean absolute change
between consecutive frames of the input, of the output and, for 3D presets
that have one, of the task's framewise 2D baseline. A 3D model that keeps
time coherent follows the input's curve; a framewise model flickers above it.

Everything the public demo needs is here and does not depend on Gradio being
installed until ``build_app``/``launch`` is called (``import keras_v2v`` never
imports Gradio):

- ``read_clip`` decodes at most ``MAX_SECONDS`` seconds / ``MAX_FRAMES``
  frames, downscaling each frame as it is decoded so that the longer side is
  at most ``MAX_SIDE`` pixels (memory stays bounded for 4K phone clips);
  what was cut or downscaled is reported as a notice, never an error.
- ``translate_clip`` runs a preset (and its baseline) and writes H.264 mp4s
  into a temporary folder; bad uploads raise ``DemoInputError`` whose text is
  shown in the page as it is.
- Models are loaded once per process and cached (``load_model``).
- Inference runs wherever Keras puts it: the GPU when the backend sees one,
  the CPU otherwise; on Hugging Face ZeroGPU Spaces the handler is wrapped in
  ``spaces.GPU`` (only when the ``spaces`` package imports).
- The queue runs ``CONCURRENCY_LIMIT`` translations at a time and holds at
  most ``MAX_QUEUE`` waiting requests; uploads over ``MAX_UPLOAD_MB`` are
  refused by the server (``launch``) and again by the handler.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time

import numpy as np

from keras_v2v import data
from keras_v2v.data.errors import DataError
from keras_v2v.demo import expects

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Limits of the public demo
# --------------------------------------------------------------------------

MAX_UPLOAD_MB = 50  # larger uploads are refused
MAX_SECONDS = 10.0  # longer clips are cut to their first MAX_SECONDS
MAX_FRAMES = 300  # and to at most this many frames (10 s at 30 fps)
MAX_SIDE = 256  # frames are downscaled so that the longer side is at most this
MAX_SOURCE_PIXELS = 4096 * 2304  # larger uploaded frames (as their headers declare) are refused unread
DEFAULT_FPS = 12.0  # for files that declare no (or an absurd) frame rate
CONCURRENCY_LIMIT = 2  # translations running at once
MAX_QUEUE = 32  # requests waiting in the queue; more are turned away
GPU_DURATION_S = 120  # seconds of ZeroGPU time asked for per request
OUTPUT_TTL_S = 3600  # output folders older than this are removed
UPLOAD_SUFFIXES = (".mp4", ".webm", ".mov", ".gif", ".mkv", ".avi", ".m4v")
TITLE = "keras-v2v: unpaired video-to-video translation"


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may hold; the defaults are the module constants."""

    max_upload_mb: float = MAX_UPLOAD_MB
    max_seconds: float = MAX_SECONDS
    max_frames: int = MAX_FRAMES
    max_side: int = MAX_SIDE
    max_source_pixels: int = MAX_SOURCE_PIXELS

    def describe(self):
        return (
            f"Uploads up to {self.max_upload_mb:g} MB (mp4, webm, mov, gif). Only the first "
            f"{self.max_seconds:g} s (at most {self.max_frames} frames) are translated, and "
            f"frames are downscaled to at most {self.max_side} px on their longer side (uploads of "
            f"more than {self.max_source_pixels / 1e6:.1f} megapixels per frame are refused); "
            "the page says when a clip was cut or downscaled."
        )


def size_text(height, width):
    """A frame size as `keras-v2v list` writes shapes: height first ("64x112 px (height x width)")."""
    return f"{height}x{width} px (height x width)"


class DemoInputError(ValueError):
    """A problem with the user's request; its text is shown in the page as it is."""


# --------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Preset:
    """One entry of the demo's preset table.

    ``source`` is what ``keras_v2v.from_pretrained`` loads: a preset folder
    or a zoo name. ``baseline`` names another entry of the same table (the
    task's framewise 2D model) that 3D presets are compared against.
    """

    name: str
    source: str
    domains: tuple = ("A", "B")
    rank: int | None = None
    baseline: str | None = None
    sample_clip: str | None = None
    description: str = ""
    task: str = ""
    method: str = ""
    metric: str = ""


def _preset_from_folder(name, folder):
    from keras_v2v.presets import storage

    folder = os.path.abspath(os.fspath(folder))
    spec = storage.read_preset_spec(folder) or {}
    shape = spec.get("input_shape")
    rank = spec.get("rank") or (len(shape) - 1 if shape else None)
    return Preset(
        name=name,
        source=folder,
        domains=tuple(spec.get("domains") or ("A", "B")),
        rank=rank,
        method="3d" if rank == 3 else ("2d" if rank == 2 else ""),
    )


def _preset_from_entry(name, entry):
    entry = dict(entry)
    source = entry.get("path") or entry.get("folder") or entry.get("source")
    base = _preset_from_folder(name, source) if source and os.path.isdir(source) else None
    rank = entry.get("rank") or (base.rank if base else None)
    method = entry.get("method") or (base.method if base else "")
    return Preset(
        name=name,
        source=os.fspath(source) if source else name,
        domains=tuple(entry.get("domains") or (base.domains if base else ("A", "B"))),
        rank=rank,
        baseline=entry.get("baseline"),
        sample_clip=entry.get("sample_clip"),
        description=entry.get("description") or "",
        task=entry.get("task") or "",
        method=method,
        metric=str(entry.get("metric") or ""),
    )


DEFAULT_PRESET = "vmnist-sph2sand-3d"


def bundled_presets(include_hub=False):
    """Zoo presets whose weights are on this machine (bundled or in the Hugging Face cache).

    ``include_hub=True`` adds those that are downloaded from the Hub on first
    use (a Space that installed keras-v2v without the repository's zoo/).
    """
    from keras_v2v import presets

    wanted = ("bundled", "cached", "hub") if include_hub else ("bundled", "cached")
    entries = [e for e in presets.list_pretrained() if e.get("weights") in wanted]
    # The 3D models first: they are what the demo shows; their 2D baselines follow. The default
    # is the README's main job, where the 3D model's temporal consistency is shown (Table 2).
    entries.sort(key=lambda e: (e.get("method") != "3d", e["name"] != DEFAULT_PRESET, e["name"]))
    return {e["name"]: _preset_from_entry(e["name"], e) for e in entries}


def with_extra_presets(extra):
    """The bundled presets plus `extra` preset names or folders, the extras first (`keras-v2v demo --presets`).

    A folder (a converted checkpoint, a trained recipe's preset) is listed under
    its folder name; a name is a registered preset, even one still on the Hub.
    """
    from keras_v2v import presets

    registered = {e["name"]: e for e in presets.list_pretrained()}
    table = {}
    for item in extra:
        if os.path.isdir(item):
            name = os.path.basename(os.path.normpath(os.path.abspath(item)))
            table[name] = item
        elif item in registered:
            table[item] = registered[item]
        else:
            raise ValueError(f"--presets {item!r}: neither a preset folder nor a registered preset "
                             "(keras-v2v list names them)")
    bundled = {name: p for name, p in bundled_presets().items() if name not in table}
    return resolve_presets({**table, **bundled})


def resolve_presets(presets=None):
    """``{name: Preset}`` from None (bundled zoo), or ``{name: folder | entry dict | Preset}``.

    Baselines that are not in the table are dropped; a ``NAME-3d`` entry
    without one gets ``NAME-2d-random`` when the table has it.
    """
    if presets is None:
        table = bundled_presets()
    else:
        table = {}
        for name, value in dict(presets).items():
            if isinstance(value, Preset):
                table[name] = dataclasses.replace(value, name=name)
            elif isinstance(value, dict):
                table[name] = _preset_from_entry(name, value)
            else:
                table[name] = _preset_from_folder(name, value)
    for name, preset in list(table.items()):
        baseline = preset.baseline
        if baseline is None and name.endswith("-3d") and f"{name[:-3]}-2d-random" in table:
            baseline = f"{name[:-3]}-2d-random"
        if baseline not in table or baseline == name or preset.rank == 2:
            baseline = None
        table[name] = dataclasses.replace(preset, baseline=baseline)
    return table


# --------------------------------------------------------------------------
# Device and model cache
# --------------------------------------------------------------------------


def device_info():
    """Where inference runs, in words, e.g. "GPU (NVIDIA H100) - TensorFlow backend"."""
    import keras

    backend = keras.backend.backend()
    gpus = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            for device in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(device)
                gpus.append(details.get("device_name") or device.name)
        elif backend == "jax":
            import jax

            gpus = [str(getattr(d, "device_kind", d)) for d in jax.devices() if d.platform == "gpu"]
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver must not take the demo down: report CPU
        logger.exception("could not list GPUs")
        gpus = []
    if gpus:
        where = f"GPU ({', '.join(sorted(set(gpus)))})"
    elif os.environ.get("SPACES_ZERO_GPU"):
        where = "ZeroGPU (a GPU is attached per request)"
    else:
        where = "CPU"
    return f"{where} - Keras {backend} backend"


_MODELS = {}
_MODELS_LOCK = threading.Lock()


def load_model(source):
    """``keras_v2v.from_pretrained(source)``, loaded once per process and cached."""
    from keras_v2v import presets

    source = os.fspath(source)
    key = os.path.abspath(source) if os.path.isdir(source) else source
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            # Generators only: less memory (no discriminators); the demo never trains.
            model = presets.from_pretrained(source, discriminators=False)
            _MODELS[key] = model
    return model


def clear_model_cache():
    with _MODELS_LOCK:
        _MODELS.clear()


# --------------------------------------------------------------------------
# Reading an upload within the limits
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Clip:
    frames: np.ndarray  # uint8 (T, H, W, 3)
    fps: float
    notices: list
    source_size: tuple  # (height, width) as uploaded


def _readable(problem, path, name):
    """A DataError's problem without server paths or errno numbers."""
    return re.sub(r"\[Errno -?\d+\] ", "", str(problem).replace(path, name))


def read_clip(path, limits=None):
    """Decode an upload within ``limits`` -> ``Clip`` (frames, fps, notices).

    The headers are probed first (no decoding); then at most the time/frame
    budget is decoded, each frame downscaled as it is decoded
    (``data.read_video(max_side=...)``), so memory is bounded whatever the
    upload's size. A clip that stops decoding part-way keeps what decodes.

    Raises:
        DemoInputError: with a message for the user (too large, unreadable,
            no video stream, no decodable frame).
    """
    limits = limits or Limits()
    path = os.fspath(path)
    name = os.path.basename(path)
    formats = "an mp4, webm, mov or gif clip"
    if not os.path.isfile(path):
        raise DemoInputError(f"The upload {name} is gone from the server; upload it again.")
    size = os.path.getsize(path)
    if size > limits.max_upload_mb * 2**20:
        raise DemoInputError(
            f"{name} is {size / 2**20:.1f} MB; the demo accepts uploads up to "
            f"{limits.max_upload_mb:g} MB. Trim or compress the clip and try again."
        )
    if size == 0:
        raise DemoInputError(f"{name} is empty (0 bytes); upload {formats}.")

    notices = []
    try:
        info = data.probe_video(path)
        fps = info.fps if info.fps and 0 < info.fps <= 240 else None
        if fps is None:
            fps = DEFAULT_FPS
            notices.append(f"{name} declares no usable frame rate; assuming {DEFAULT_FPS:g} fps.")
        if info.height * info.width > limits.max_source_pixels:
            raise DemoInputError(
                f"{name} declares frames of {size_text(info.height, info.width)} ({info.height * info.width / 1e6:.1f} "
                f"megapixels); the demo accepts at most {limits.max_source_pixels / 1e6:.1f} megapixels per "
                "frame. Downscale the clip and try again."
            )
        budget = max(1, min(limits.max_frames, math.floor(limits.max_seconds * fps + 1e-6)))
        # One frame past the budget tells whether the clip was cut.
        frames = data.read_video(path, max_frames=budget + 1, max_side=limits.max_side, partial=True)
    except DataError as e:
        problem = _readable(e.problem, path, name)
        raise DemoInputError(
            f"Could not read {name}: {problem}. Upload {formats} that FFmpeg can decode."
        ) from e

    source_size = (info.height, info.width)
    target = tuple(frames.shape[1:3])
    more = len(frames) > budget
    frames = frames[:budget]
    kept = len(frames)
    if not more and info.frames and kept < info.frames:
        notices.append(
            f"{name} stops decoding after frame {kept} of the {info.frames} its header declares "
            f"(truncated or corrupt); the {kept} frames that decode are translated."
        )
    if more:
        total = f"{info.frames} frames" if info.frames else "a longer clip"
        notices.append(
            f"Clip cut to its first {kept} frames ({kept / fps:.1f} s of {total}): the demo "
            f"translates at most {limits.max_seconds:g} s and {limits.max_frames} frames."
        )
    if target != source_size:
        notices.append(
            f"Frames downscaled from {size_text(*source_size)} to {size_text(*target)} "
            f"(the demo's limit is {limits.max_side} px on the longer side)."
        )
    return Clip(frames, fps, notices, source_size)


# --------------------------------------------------------------------------
# Translation
# --------------------------------------------------------------------------


def frame_changes(video):
    """Per-frame change ``mean |v_t - v_{t-1}|`` in [0, 1] units -> (T-1,) float64."""
    v = np.asarray(video)
    v = v.astype(np.float32) / 255.0 if v.dtype == np.uint8 else v.astype(np.float32)
    if len(v) < 2:
        return np.zeros((0,), np.float64)
    return np.abs(np.diff(v, axis=0)).mean(axis=tuple(range(1, v.ndim))).astype(np.float64)


_OUTPUT_ROOT = os.path.join(tempfile.gettempdir(), "keras-v2v-demo")


def _output_dir():
    """A fresh folder for one request's videos; folders older than OUTPUT_TTL_S go."""
    os.makedirs(_OUTPUT_ROOT, exist_ok=True)
    now = time.time()
    for entry in os.scandir(_OUTPUT_ROOT):
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > OUTPUT_TTL_S:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass
    return tempfile.mkdtemp(prefix="run-", dir=_OUTPUT_ROOT)


@dataclasses.dataclass
class Result:
    video: str  # translated mp4
    side_by_side: str  # input | output [| baseline] mp4
    curves: dict  # series name -> (T-1,) per-frame change
    flicker: dict  # series name -> mean per-frame change
    notices: list
    motion: dict  # series name -> motion-aware metrics (warping error, motion correlation), may be empty
    summary: str  # markdown
    frames: int
    fps: float
    seconds: float


def _series_label(preset):
    if preset.rank == 3 or preset.method == "3d":
        return "3D output"
    if preset.rank == 2:
        return "2D output"
    return "output"


def _check_model_memory(path, model, direction, limits):
    """Refuses, from the upload's headers, a clip whose forward passes would not fit the memory limit."""
    from keras_v2v.data.video_io import scaled_size
    from keras_v2v.models import inference

    if not os.path.isfile(path):
        return  # read_clip says so
    try:
        info = data.probe_video(path)
    except DataError:
        return  # read_clip says what is wrong, in the user's words
    height, width = scaled_size(info.height, info.width, limits.max_side)
    generator = model.generator_a2b if direction == "a2b" else model.generator_b2a
    frames = model.sample_shape[0] if model.rank == 3 else 1
    try:
        inference.check_memory(generator, 4 * frames, height, width)  # translate_clip's batch_size
    except ValueError as error:
        raise DemoInputError(f"{os.path.basename(path)}: {error}") from None


def translate_clip(path, preset, direction="a2b", *, presets=None, limits=None, progress=None, out_dir=None):
    """Translate an uploaded clip with a preset (and its 2D baseline where there is one).

    Args:
        path: the uploaded file.
        preset: a name in ``presets``, or a ``Preset``.
        direction: "a2b" or "b2a".
        presets: ``{name: Preset}`` (see ``resolve_presets``).
        limits: ``Limits``; None for the module constants.
        progress: optional ``callable(fraction, desc)``.
        out_dir: where the mp4s go; None for a fresh temporary folder.

    Raises:
        DemoInputError: anything the user can fix (message shown as it is).
    """
    started = time.perf_counter()
    report = progress or (lambda fraction, desc=None: None)
    presets = presets if presets is not None else {}
    if path is None:
        raise DemoInputError("Upload a clip (mp4, webm, mov or gif) or pick an example first.")
    if not isinstance(preset, Preset):
        if preset not in presets:
            known = ", ".join(presets) or "none are installed"
            raise DemoInputError(f"Unknown preset {preset!r}; choose one of: {known}.")
        preset = presets[preset]
    if direction not in ("a2b", "b2a"):
        raise DemoInputError(f"Direction must be 'a2b' or 'b2a', got {direction!r}.")

    report(0.0, f"Loading {preset.name}")
    model = load_model(preset.source)
    baseline = presets.get(preset.baseline) if preset.baseline else None
    baseline_model = load_model(baseline.source) if baseline else None
    # From the headers, before a frame is decoded: the passes must fit in memory.
    _check_model_memory(path, model, direction, limits or Limits())
    report(0.05, "Reading the clip")
    clip = read_clip(path, limits)

    source_channels = model.channels_a if direction == "a2b" else model.channels_b
    video = data.to_channels(clip.frames, source_channels)
    unlike = expects.unlike_notice(preset, clip.frames, direction)
    if unlike:
        clip.notices.append(unlike)
    share = 0.6 if baseline_model is not None else 0.85

    def stage(first, width, desc):
        return lambda done, total: report(first + width * done / max(total, 1), desc)

    label = _series_label(preset)
    report(0.1, f"Translating with {preset.name}")
    output = model.translate(
        video, direction=direction, batch_size=4, progress=stage(0.1, share, f"Translating with {preset.name}")
    )
    panels, labels = [clip.frames, output], ["input", label.replace(" output", "")]
    roomy = clip.frames.shape[2] >= 64  # a 10 px label "2D baseline" is about 55 px wide
    curves = {"input": frame_changes(video), label: frame_changes(output)}
    if baseline_model is not None:
        report(0.1 + share, f"Translating with the 2D baseline {baseline.name}")
        other = baseline_model.translate(
            data.to_channels(clip.frames,
                             baseline_model.channels_a if direction == "a2b" else baseline_model.channels_b),
            direction=direction,
            batch_size=8,
            progress=stage(0.1 + share, 0.25, f"Translating with the 2D baseline {baseline.name}"),
        )
        panels.append(other)
        labels.append("2D baseline" if roomy else "2D")
        curves["2D baseline"] = frame_changes(other)

    report(0.95, "Writing the videos")
    out_dir = out_dir or _output_dir()
    stem = f"{preset.name}-{direction}"
    video_path = data.write_video(os.path.join(out_dir, f"{stem}.mp4"), output, fps=clip.fps)
    side_path = data.write_side_by_side(
        os.path.join(out_dir, f"{stem}-side-by-side.mp4"), *panels, labels=labels, fps=clip.fps
    )
    flicker = {k: float(v.mean()) if v.size else 0.0 for k, v in curves.items()}
    motion = _motion_metrics(video, {label: output, **({"2D baseline": panels[2]} if len(panels) > 2 else {})})
    seconds = time.perf_counter() - started
    report(1.0, "Done")
    return Result(
        video=video_path,
        side_by_side=side_path,
        curves=curves,
        flicker=flicker,
        notices=list(clip.notices),
        motion=motion,
        summary=_summary(preset, direction, clip, flicker, seconds, motion),
        frames=len(output),
        fps=clip.fps,
        seconds=seconds,
    )


# Flow on at most this many frames: the metrics cost about 2 ms a frame at 256 px.
MOTION_FRAMES = 64


def _motion_metrics(video, outputs):
    """Warping error and motion correlation of each output along the input's flow; {} without OpenCV."""
    if len(video) < 2:
        return {}
    try:
        from keras_v2v.evaluation import motion
        motion.opencv()
    except ImportError:
        return {}
    frames = video[:MOTION_FRAMES]
    return {name: {"warping_error": motion.warping_error(out[:MOTION_FRAMES], frames),
                   "motion_corr": motion.motion_correlation(out[:MOTION_FRAMES], frames)}
            for name, out in outputs.items()}


def _summary(preset, direction, clip, flicker, seconds, motion=None):
    a, b = preset.domains[:2]
    src, dst = (a, b) if direction == "a2b" else (b, a)
    t, h, w = clip.frames.shape[:3]
    lines = [
        (
            f"**{preset.name}**: {src} -> {dst}, {t} frames of {size_text(h, w)} at {clip.fps:.3g} fps, "
            f"{seconds:.1f} s on {device_info()}."
        )
    ]
    if t >= 2:
        ref = flicker.get("input", 0.0)
        parts = []
        for key, value in flicker.items():
            ratio = f" ({value / ref:.2f}x the input)" if ref > 0 and key != "input" else ""
            parts.append(f"{key} {value:.4f}{ratio}")
        lines.append("Mean frame-to-frame change (0-1 units; a good translation changes where its input "
                     "does, a still image not at all): " + "; ".join(parts) + ".")
        if motion:
            parts = [f"{key} {m['warping_error']:.2f} (follows the input's change: correlation "
                     f"{m['motion_corr']:.2f})" for key, m in motion.items()]
            lines.append("Warping error along the input's optical flow (x1e3, lower = steadier where things "
                         "move; read it with the correlation, since a still image scores well on steadiness "
                         "alone): " + "; ".join(parts) + ".")
    else:
        lines.append("One frame only: no temporal consistency plot.")
    return "\n\n".join(lines)
