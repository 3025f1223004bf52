"""The networks and the CycleGAN that trains them, written once with `keras.ops`.

Importing this package imports Keras (and so its backend) and registers every
keras-v2v layer, schedule and model with Keras' serialization, which is what
`keras.saving.load_model` needs to read a preset or a checkpoint.
"""

from keras_v2v.models.builders import cyclegan_2d, cyclegan_3d
from keras_v2v.models.cyclegan import CycleGAN
from keras_v2v.models.inflate import inflate
from keras_v2v.models.layers import (
    CropToReference,
    InstanceNormalization,
    PadToValidSize,
    ReflectionPadding,
    ResidualBlock,
    UpsampleConv,
)
from keras_v2v.models.networks import patchgan_discriminator, resnet_generator
from keras_v2v.models.optimizers import PairedOptimizer
from keras_v2v.models.pool import HistoryPool
from keras_v2v.models.reference import reference_resnet_generator
from keras_v2v.models.reference_checkpoint import from_reference_checkpoint
from keras_v2v.models.schedules import HoldThenLinearDecay

__all__ = [
    "CycleGAN",
    "cyclegan_2d",
    "cyclegan_3d",
    "inflate",
    "CropToReference",
    "InstanceNormalization",
    "PadToValidSize",
    "ReflectionPadding",
    "ResidualBlock",
    "UpsampleConv",
    "patchgan_discriminator",
    "resnet_generator",
    "PairedOptimizer",
    "HistoryPool",
    "HoldThenLinearDecay",
    "reference_resnet_generator",
    "from_reference_checkpoint",
]
