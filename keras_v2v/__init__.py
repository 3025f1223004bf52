"""keras-v2v: unsupervised video-to-video translation for Keras 3.

The paper's 3D CycleGAN and its framewise 2D baselines, trainable with
`model.fit` on the TensorFlow, JAX and PyTorch backends.
"""

import os

# TensorFlow is the default backend here (JAX's Conv3D is slow on CPU);
# an explicit KERAS_BACKEND always wins.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_v2v.cyclegan import CycleGAN, cyclegan_2d, cyclegan_3d  # noqa: E402
from keras_v2v.presets import from_pretrained, list_pretrained  # noqa: E402
from keras_v2v.layers import (  # noqa: E402
    InstanceNormalization,
    ReflectionPadding,
    ResidualBlock,
)
from keras_v2v.networks import patchgan_discriminator, resnet_generator  # noqa: E402
from keras_v2v.pool import HistoryPool  # noqa: E402
from keras_v2v.schedules import HoldThenLinearDecay  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CycleGAN",
    "cyclegan_2d",
    "cyclegan_3d",
    "from_pretrained",
    "list_pretrained",
    "HistoryPool",
    "HoldThenLinearDecay",
    "InstanceNormalization",
    "ReflectionPadding",
    "ResidualBlock",
    "patchgan_discriminator",
    "resnet_generator",
]
