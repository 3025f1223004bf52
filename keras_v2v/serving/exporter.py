"""A preset's generator -> a SavedModel, ONNX or LiteRT file, through Keras' own exporters.

`export(preset, out, format)` loads the preset (generators only), rebuilds the
chosen generator with the input shape and dtype asked for, and hands it to
`keras.Model.export` (which uses `ExportArchive`, tf2onnx and TensorFlow's
LiteRT converter). `out` is a folder: the artefact plus `export.json`, which
says what the graph expects (layout, range, shape) and where it came from.

The graph is the generator alone: input and output are in [-1, 1], laid out
(N, D, H, W, C) for 3D presets and (N, H, W, C) for 2D ones. Videos longer
than the training depth go through the same sliding windows as
`CycleGAN.translate` (`keras_v2v.serving.runtimes.translate`).
"""

import contextlib
import json
import math
import os
import sys

from keras_v2v.presets import registry, storage
from keras_v2v.utils.files import atomic_path, check_output_path

FORMATS = {
    # our name: (Keras' format name, file inside OUT or None for OUT itself, runtime)
    "saved_model": ("tf_saved_model", None, "tensorflow"),
    "onnx": ("onnx", "model.onnx", "onnxruntime"),
    "litert": ("litert", "model.tflite", "ai-edge-litert"),
}
DTYPES = ("float32", "float16", "bfloat16")
# What each format's runtime runs on CPU here: ONNX has no bfloat16 Conv, and LiteRT's
# builtin kernels leave float16/bfloat16 convolutions to TensorFlow's Flex delegate,
# which ai-edge-litert's interpreter does not include.
FORMAT_DTYPES = {"saved_model": DTYPES, "onnx": ("float32", "float16"), "litert": ("float32",)}
DTYPE_LIMITS = {"saved_model": "", "onnx": "; ONNX's Conv has no bfloat16",
                "litert": "; LiteRT's builtin kernels run float32, other graphs need TensorFlow's Flex delegate"}
EXPORT_FILE = "export.json"
INPUT_NAME = "video"
SIGNATURE = "serving_default"
AXES = {2: ("height", "width"), 3: ("frames", "height", "width")}
# Whatever the memory limit: past this, sizes in the converters' int32 shape arithmetic overflow.
MAX_AXIS = 65536


class ExportError(ValueError):
    """A request that cannot be exported, or a converter that failed; one line."""


def _require(module, why):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ExportError(f'{why} needs the Python package {module!r}: pip install "keras-v2v[export]"')


def check_axes(frames=None, height=None, width=None):
    """Sizes asked for on the command line, each from 1 to MAX_AXIS (checked before the backend loads)."""
    for flag, value in (("--frames", frames), ("--height", height), ("--width", width)):
        if value is not None and not 1 <= int(value) <= MAX_AXIS:
            raise ExportError(f"{flag}: expected a size from 1 to {MAX_AXIS}, found {value}")


def input_shape(spec_shape, rank, frames=None, height=None, width=None, dynamic=False):
    """The exported input's shape without batch: the preset's, with overrides or None where dynamic."""
    shape = list(spec_shape)
    if dynamic:
        if any(v is not None for v in (frames, height, width)):
            raise ExportError("--dynamic: expected either --dynamic or --frames/--height/--width, found both")
        return [None] * (len(shape) - 1) + shape[-1:]
    if frames is not None and rank == 2:
        raise ExportError(f"--frames: expected no frame count for a 2D (framewise) preset, which takes (N, H, W, C) "
                          f"frames; found --frames {frames}")
    check_axes(frames, height, width)
    named = ([("--frames", frames)] if rank == 3 else []) + [("--height", height), ("--width", width)]
    for axis, (flag, value) in enumerate(named):
        if value is not None:
            shape[axis] = int(value)
    return shape


def check_export_memory(generator, shape, frames=None, height=None, width=None):
    """Refuses, before any tracing, a fixed shape whose one-clip forward pass would pass the memory limit.

    Converters constant-fold shapes: a 100,000,000-wide graph crashed tf2onnx
    (signal 11) and made a SavedModel no runtime could run.
    """
    from keras_v2v.models.inference import forward_bytes
    from keras_v2v.utils.limits import MEMORY_ENV_VAR, memory_limit, over_limit_message

    if any(size is None for size in shape[:-1]):
        return  # --dynamic: the runtime's input decides
    need = forward_bytes(generator, math.prod(int(s) for s in shape[:-1]))
    limit = memory_limit()
    if need > limit:
        asked = " ".join(f"{flag} {value}" for flag, value in (("--frames", frames), ("--height", height),
                                                               ("--width", width)) if value is not None)
        raise ExportError(over_limit_message(
            f"{asked or 'the preset shape'}: running the exported graph on one "
            f"{'x'.join(str(s) for s in shape[:-1])} input", need, limit,
            hint="export a smaller fixed size or --dynamic",
            raise_with=f"set {MEMORY_ENV_VAR} (e.g. {MEMORY_ENV_VAR}=64GiB)"))


@contextlib.contextmanager
def quiet_native_logs():
    """Keeps TensorFlow's and the converters' C++/absl lines off the terminal (KERAS_V2V_TF_LOGS=1 shows them)."""
    import logging

    if os.environ.get("KERAS_V2V_TF_LOGS", "").strip() not in ("", "0"):
        yield
        return
    previous = logging.getLogger("tf2onnx").level
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        logging.getLogger("tf2onnx").setLevel(previous)


def _check_out(out, overwrite):
    out = check_output_path(out, "export")
    if not os.path.exists(out):
        return out
    if not os.path.isfile(os.path.join(out, EXPORT_FILE)):
        raise ExportError(f"OUT: expected a new path or a previous export (a folder with {EXPORT_FILE}), "
                          f"found {out}, which is not one; nothing was changed")
    if not overwrite:
        raise ExportError(f"OUT: {out} is a previous export; pass --overwrite to replace it")
    return out


def _versions():
    import keras

    from keras_v2v import __version__

    versions = {"keras_v2v": __version__, "keras": keras.__version__, "backend": keras.backend.backend()}
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return versions


def _converter_versions(fmt):
    from importlib import metadata

    names = {"onnx": ("tf2onnx", "onnx"), "litert": (), "saved_model": ()}[fmt]
    return {name: metadata.version(name) for name in names}


def _onnx_names(path):
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    return ([i.name for i in graph.input if i.name not in initializers], [o.name for o in graph.output])


def _write(model, staging, fmt, shape, dtype):
    import keras

    keras_format, filename, _ = FORMATS[fmt]
    target = os.path.join(staging, filename) if filename else staging
    signature = [keras.InputSpec(shape=(None, *shape), dtype=dtype, name=INPUT_NAME)]
    options = {}
    if fmt == "litert":
        import tensorflow as tf

        # Builtin kernels only: a graph that needs TensorFlow's Flex delegate does not run in
        # ai-edge-litert or a plain LiteRT app, so it should fail here, not on the phone.
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    try:
        with quiet_native_logs():
            model.export(target, format=keras_format, input_signature=signature, verbose=False, **options)
    except Exception as error:  # converters raise many kinds; say which, in one line
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        detail = [line for line in lines[1:] if line.startswith("TF Select ops")]
        raise ExportError(f"--format {fmt}: Keras' exporter failed: {type(error).__name__}: "
                          f"{'; '.join(lines[:1] + detail)}") from error
    return target


def export(preset, out, format="onnx", direction="a2b", frames=None, height=None, width=None, dynamic=False,
           dtype="float32", overwrite=False):
    """Exports one generator of `preset` to `out` (a folder); returns the export.json record.

    Args:
        preset: a registered name, a preset folder or a Hub repo id.
        out: the folder to write; an existing one is replaced only when it is a
            previous export (holds export.json) and `overwrite` is True.
        format: "saved_model", "onnx" or "litert".
        direction: "a2b" or "b2a": which generator.
        frames, height, width: fixed input sizes (default: the preset's
            training clip or frame); the batch axis is always dynamic.
        dynamic: every axis but channels dynamic (batch, frames, height, width).
        dtype: the graph's input, weights and compute dtype; float32 whatever
            policy the model was trained under.
    """
    import keras

    from keras_v2v.serving import graph  # imports Keras

    if format not in FORMATS:
        raise ExportError(f"--format: expected one of {', '.join(FORMATS)}, found {format!r}")
    if direction not in ("a2b", "b2a"):
        raise ExportError(f"--direction: expected a2b or b2a, found {direction!r}")
    if dtype not in FORMAT_DTYPES[format]:
        raise ExportError(f"--dtype: expected {' or '.join(FORMAT_DTYPES[format])} for --format {format}"
                          f"{DTYPE_LIMITS[format]}; found {dtype}")
    if keras.backend.backend() != "tensorflow":
        raise ExportError(f"KERAS_BACKEND: expected tensorflow (the SavedModel, tf2onnx and LiteRT converters "
                          f"work on TensorFlow graphs), found {keras.backend.backend()}")
    if format == "onnx":
        _require("tf2onnx", "ONNX export")
        _require("onnx", "ONNX export")
    out = _check_out(out, overwrite)

    folder, expected, label = registry.resolve(preset)
    spec = storage.read_preset_spec(folder) or {}
    model = storage.load_folder(folder, expected_sha256=expected, discriminators=False, label=label)
    generator = model.generator_a2b if direction == "a2b" else model.generator_b2a
    channels_in, channels_out = ((model.channels_a, model.channels_b) if direction == "a2b"
                                 else (model.channels_b, model.channels_a))
    sample = list(model.sample_shape[:-1]) + [channels_in]
    shape = input_shape(sample, model.rank, frames, height, width, dynamic)
    check_export_memory(generator, shape, frames, height, width)
    serving = graph.serving_copy(generator, shape, dtype)

    # Built in a temporary sibling, swapped in only when complete (a failed export keeps the old one).
    with atomic_path(out, is_dir=True) as built:
        os.makedirs(built)
        artefact = _write(serving, built, format, shape, dtype)
        names = _onnx_names(artefact) if format == "onnx" else ([INPUT_NAME], ["output_0"])
        record = _record(spec, label, folder, format, artefact, built, direction, model, shape,
                         channels_out, dtype, graph.training_policies(generator), names)
        with open(os.path.join(built, EXPORT_FILE), "w") as handle:
            json.dump(record, handle, indent=2)
    return record


def _record(spec, label, folder, fmt, artefact, built, direction, model, shape, channels_out, dtype, policies,
            names):
    layout = "NDHWC" if model.rank == 3 else "NHWC"
    domains = list(model.domains) if direction == "a2b" else list(model.domains)[::-1]
    record = {
        "format": fmt,
        "file": os.path.relpath(artefact, built) if artefact != built else ".",
        "runtime": FORMATS[fmt][2],
        "signature": SIGNATURE if fmt != "onnx" else None,
        "preset": spec.get("name") or label,
        "preset_source": label,
        "weights_sha256": storage.sha256_of(os.path.join(folder, storage.WEIGHTS_FILE)),
        "direction": direction,
        "domains": {"from": domains[0], "to": domains[1]},
        "rank": model.rank,
        "input": {"name": names[0][0], "shape": [None, *shape], "layout": layout, "dtype": dtype,
                  "range": [-1.0, 1.0]},
        "output": {"name": names[1][0], "shape": [None, *shape[:-1], channels_out], "layout": layout,
                   "dtype": dtype, "range": [-1.0, 1.0]},
        "dynamic_axes": ["batch"] + [a for a, s in zip(AXES[model.rank], shape[:-1]) if s is None],
        "preprocess": "uint8 x -> x / 127.5 - 1; float x in [0, 1] -> 2 x - 1",
        "postprocess": "clip y to [-1, 1]; uint8 -> rint((y + 1) * 127.5); float -> (y + 1) / 2",
        "training_dtype_policy": policies,
        "versions": {**_versions(), **_converter_versions(fmt)},
    }
    if model.rank == 3:
        # Long videos go through overlapping windows, as CycleGAN.translate does: of the
        # training depth, or of the graph's clip length when that is fixed.
        frames = shape[0] or model.sample_shape[0]
        record["window"] = {"frames": frames, "overlap": frames // 2, "blend": "tent",
                            "training_depth": model.sample_shape[0]}
    return record
