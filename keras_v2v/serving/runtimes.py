"""Runs an exported generator in the runtime that serves its format, and translates whole videos with it.

    runtime = open_export("vmnist-onnx/")          # reads export.json, loads model.onnx in onnxruntime
    batch_out = runtime(batch)                      # model range [-1, 1] in and out
    video_out = translate(runtime, video)           # uint8 or [0, 1] video, windows as in CycleGAN.translate

No Keras here: SavedModels load with `tf.saved_model.load`, ONNX files with
onnxruntime, LiteRT files with ai-edge-litert's interpreter. Only `translate`
imports keras_v2v.models (for the shared sliding-window code, which is numpy
but lives in a package that loads Keras).
"""

import json
import os

import numpy as np

EXPORT_FILE = "export.json"


def read_export(folder):
    path = os.path.join(os.fspath(folder), EXPORT_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder}: expected an export folder with {EXPORT_FILE} "
                                "(written by `keras-v2v export`), found none")
    with open(path) as handle:
        return json.load(handle)


def _numpy_dtype(name):
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


class Runtime:
    """A callable (batch in [-1, 1]) -> (output in [-1, 1], float32), plus the export's record."""

    def __init__(self, folder, record, run):
        self.folder = folder
        self.record = record
        self._run = run
        self._dtype = _numpy_dtype(record["input"]["dtype"])

    def __call__(self, batch):
        out = self._run(np.asarray(batch).astype(self._dtype))
        return np.asarray(out).astype(np.float32)


def _saved_model(path, record, threads):
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    serve = tf.saved_model.load(path).signatures[record["signature"]]
    output = record["output"]["name"]
    return lambda batch: serve(**{record["input"]["name"]: tf.constant(batch)})[output].numpy()


def _onnx(path, record, threads):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = record["input"]["name"]
    return lambda batch: session.run(None, {name: batch})[0]


def _litert(path, record, threads):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads or os.cpu_count())
    # The signature runner resizes its input to each batch's shape (dynamic axes).
    runner = interpreter.get_signature_runner(record["signature"])
    output = record["output"]["name"]
    return lambda batch: runner(**{record["input"]["name"]: batch})[output]


LOADERS = {"saved_model": _saved_model, "onnx": _onnx, "litert": _litert}


def open_export(folder, threads=None):
    """Loads an export folder's artefact in its runtime; `threads` caps the runtime's intra-op threads."""
    folder = os.fspath(folder)
    record = read_export(folder)
    path = os.path.normpath(os.path.join(folder, record["file"]))
    try:
        run = LOADERS[record["format"]](path, record, threads)
    except ImportError as error:
        raise ImportError(f"{folder}: {record['format']} files run in {record['runtime']}, which is not installed "
                          f'({error}); pip install "keras-v2v[export]"') from None
    return Runtime(folder, record, run)


def translate(runtime, video, window=None, overlap=None, batch_size=8, progress=None):
    """`CycleGAN.translate` with an exported generator: the same value ranges, batching and windows.

    `video` is (T, H, W, C) or (N, T, H, W, C), uint8 or float in [0, 1]; the
    result has its shape (the target domain's channels) and dtype.
    """
    from keras_v2v.utils import windows as inference  # numpy only: no Keras backend for a runtime

    record = runtime.record
    fixed = record["input"]["shape"][1:-1]
    found = np.shape(video)[-3:-1]
    if any(size is not None and size != have for size, have in zip(fixed[-2:], found)):
        raise ValueError(f"video: expected frames of {fixed[-2]}x{fixed[-1]} (this export's fixed size; export with "
                         f"--dynamic or --height/--width for others), found {found[0]}x{found[1]}")
    if record["rank"] == 3 and window is None:
        window = record["window"]["frames"]
    return inference.translate(runtime, video, rank=record["rank"], channels=record["input"]["shape"][-1],
                               window=window, overlap=overlap, batch_size=batch_size, progress=progress)
