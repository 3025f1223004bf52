"""The data layer: synthetic datasets, file readers and writers, batch samplers.

Data flows one way: a generator or reader -> a source -> `UnpairedVideoDataset`
-> `model.fit`. Nothing here imports the models, and importing this package
imports no Keras backend: the sampler (a `keras.utils.PyDataset`) loads on
first use of `UnpairedVideoDataset`.
"""

import importlib

from keras_v2v.data.errors import DataError
from keras_v2v.data.gta import PAPER_SEQUENCES, GTAClips
from keras_v2v.data.mnist import mnist_digits
from keras_v2v.data.moving_mnist import DIGIT_COLOURS, coloured_moving_mnist
from keras_v2v.data.phantoms import TISSUES, head_phantoms
from keras_v2v.data.sources import ArraySource, FrameFolderSource, VideoFileSource, as_source
from keras_v2v.data.street import STREET_CLASSES, synthetic_street
from keras_v2v.data.synthetic import PairedVideoSet
from keras_v2v.data.video_io import probe_video, read_frames, read_video, to_channels, video_info
from keras_v2v.data.video_write import write_video
from keras_v2v.data.volume_io import read_volume, write_nifti
from keras_v2v.data.volumetric_mnist import volumetric_mnist
from keras_v2v.data.writers import side_by_side, write_side_by_side

__all__ = [
    "DataError",
    "GTAClips",
    "PAPER_SEQUENCES",
    "mnist_digits",
    "DIGIT_COLOURS",
    "coloured_moving_mnist",
    "TISSUES",
    "head_phantoms",
    "MODES",
    "UnpairedVideoDataset",
    "ArraySource",
    "FrameFolderSource",
    "VideoFileSource",
    "as_source",
    "STREET_CLASSES",
    "synthetic_street",
    "PairedVideoSet",
    "probe_video",
    "read_frames",
    "read_video",
    "to_channels",
    "video_info",
    "write_video",
    "read_volume",
    "write_nifti",
    "volumetric_mnist",
    "side_by_side",
    "write_side_by_side",
]


def __getattr__(name):
    # The sampler subclasses keras.utils.PyDataset: import Keras only when it is used.
    if name in ("MODES", "UnpairedVideoDataset"):
        return getattr(importlib.import_module("keras_v2v.data.sampler"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
