"""Serving: a preset's generator exported to SavedModel, ONNX or LiteRT, and run in those runtimes.

`export` (the `keras-v2v export` verb) turns a preset into a folder holding
the graph and `export.json`; `open_export` and `translate` run it in
TensorFlow, onnxruntime or ai-edge-litert with the same windows as
`CycleGAN.translate`. Importing this package imports no Keras backend.
"""

from keras_v2v.serving.exporter import DTYPES, FORMATS, ExportError, export
from keras_v2v.serving.runtimes import Runtime, open_export, read_export, translate

__all__ = ["DTYPES", "FORMATS", "ExportError", "Runtime", "export", "open_export", "read_export", "translate"]
