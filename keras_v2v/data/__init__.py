"""The data layer: synthetic datasets, file readers and writers, batch samplers.

Data flows one way: a generator or reader -> a source -> `UnpairedVideoDataset`
-> `model.fit`. Nothing here imports the models.
"""

from keras_v2v.data.errors import DataError
from keras_v2v.data.gta import PAPER_SEQUENCES, GTAClips
from keras_v2v.data.mnist import mnist_digits
from keras_v2v.data.moving_mnist import DIGIT_COLOURS, coloured_moving_mnist
from keras_v2v.data.phantoms import TISSUES, head_phantoms
from keras_v2v.data.sampler import MODES, UnpairedVideoDataset
from keras_v2v.data.sources import ArraySource, FrameFolderSource, VideoFileSource, as_source
from keras_v2v.data.street import STREET_CLASSES, synthetic_street
from keras_v2v.data.synthetic import PairedVideoSet
from keras_v2v.data.video_io import read_frames, read_video, to_channels, video_info, write_video
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
