"""Generator and discriminator networks for images (rank 2) and clips (rank 3).

Defaults for rank 3 follow the authors' public 3D code, not the paper text:
the stem and head convolutions are 7 wide on every axis (7x7x7) and time is
strided by 2 at each down/up-sampling step. The paper's text describes
3x3x3 filters; `stem_kernel_size=3` gives that variant and
`temporal_stride=False` keeps the full frame rate inside the network.
"""

import keras
import numpy as np
from keras import ops

from keras_v2v.models.layers import (
    CropToReference,
    InstanceNormalization,
    PadToValidSize,
    ReflectionPadding,
    ResidualBlock,
    UpsampleConv,
    _normalize_tuple,
    conv_layer,
)

NUM_DOWNSAMPLINGS = 2


def _check_rank(rank):
    if rank not in (2, 3):
        raise ValueError(f"`rank` must be 2 (images) or 3 (clips/volumes), got {rank!r}.")


def _strides(rank, temporal_stride):
    if rank == 2:
        return (2, 2)
    return (2 if temporal_stride else 1, 2, 2)


def _transpose_conv(rank, filters, kernel, strides, dtype, name):
    cls = keras.layers.Conv2DTranspose if rank == 2 else keras.layers.Conv3DTranspose
    return cls(filters, kernel, strides=strides, padding="same", dtype=dtype, name=name)


def resnet_generator(
    rank=2,
    channels=3,
    out_channels=None,
    filters=64,
    num_blocks=9,
    stem_kernel_size=7,
    kernel_size=3,
    temporal_stride=True,
    upsampling="resize",
    dropout=0.0,
    norm="clip",
    dtype=None,
    name="generator",
):
    """ResNet translator of Johnson et al. (the CycleGAN generator), 2D or 3D.

    stem conv (stem_kernel_size) -> two stride-2 convs doubling width ->
    `num_blocks` residual blocks -> two x2 upsamplings halving width ->
    head conv (stem_kernel_size) -> tanh. Instance norm and reflection
    padding throughout; outputs are float32 in [-1, 1].

    Any input size works: spatial axes are edge-padded up to a multiple of
    the total stride (and to the minimum reflection padding needs), then
    cropped back, so (N, 7, 33, 50, C) in gives (N, 7, 33, 50, out) out.

    Args:
        rank: 2 for frames (N, H, W, C), 3 for clips (N, D, H, W, C).
        channels: input channels; out_channels defaults to the same.
        filters: width of the stem; the bottleneck is 4x this.
        num_blocks: residual blocks (9 in the paper, 6 in CycleGAN for 128px).
        stem_kernel_size: int or per-axis tuple for the first and last conv.
        kernel_size: int or per-axis tuple for the body convolutions.
        temporal_stride: rank 3 only; stride 2 over time when down/up-sampling.
        upsampling: "resize" (nearest x2 then conv; no checkerboard artefacts,
            and a clip constant over time stays constant) or "transpose"
            (strided transposed conv, as in the reference implementation).
        dropout: dropout inside residual blocks.
        norm: rank 3 only; "clip" normalises each channel over the whole clip
            (time and space), "frame" over each frame separately.
        dtype: a dtype policy name (e.g. "mixed_float16"); None = global policy.
    """
    _check_rank(rank)
    if norm not in ("clip", "frame"):
        raise ValueError(f"`norm` must be 'clip' or 'frame', got {norm!r}.")
    if upsampling not in ("resize", "transpose"):
        raise ValueError(f"`upsampling` must be 'resize' or 'transpose', got {upsampling!r}.")
    if num_blocks < 0:
        raise ValueError(f"`num_blocks` must be >= 0, got {num_blocks}.")
    out_channels = channels if out_channels is None else out_channels
    stem = _normalize_tuple(stem_kernel_size, rank, "stem_kernel_size")
    body = _normalize_tuple(kernel_size, rank, "kernel_size")
    strides = _strides(rank, temporal_stride)
    total = tuple(s ** NUM_DOWNSAMPLINGS for s in strides)
    # Reflection padding needs size > pad at full and at bottleneck resolution.
    minimum = tuple(
        max(k // 2 + 1, t * (b // 2 + 1)) for k, b, t in zip(stem, body, total)
    )

    inputs = keras.Input((None,) * rank + (channels,), name="video")
    x = PadToValidSize(total, minimum, dtype=dtype, name="pad_to_valid")(inputs)
    x = ReflectionPadding(tuple(k // 2 for k in stem), dtype=dtype, name="stem_pad")(x)
    x = conv_layer(rank, filters, stem, dtype=dtype, name="stem_conv")(x)
    x = InstanceNormalization(per_frame=norm == "frame", dtype=dtype, name="stem_norm")(x)
    x = keras.layers.ReLU(dtype=dtype, name="stem_relu")(x)

    width = filters
    for i in range(NUM_DOWNSAMPLINGS):
        width *= 2
        x = ReflectionPadding(tuple(b // 2 for b in body), dtype=dtype, name=f"down{i}_pad")(x)
        x = conv_layer(rank, width, body, strides, dtype=dtype, name=f"down{i}_conv")(x)
        x = InstanceNormalization(per_frame=norm == "frame", dtype=dtype, name=f"down{i}_norm")(x)
        x = keras.layers.ReLU(dtype=dtype, name=f"down{i}_relu")(x)

    for i in range(num_blocks):
        x = ResidualBlock(width, body, rank, dropout, per_frame=norm == "frame", dtype=dtype, name=f"block{i}")(x)

    for i in range(NUM_DOWNSAMPLINGS):
        width //= 2
        if upsampling == "resize":
            if body != (3,) * rank:
                raise ValueError(f"upsampling='resize' needs kernel_size 3, got {body}; use 'transpose'.")
            x = UpsampleConv(width, strides, dtype=dtype, name=f"up{i}_conv")(x)
        else:
            x = _transpose_conv(rank, width, body, strides, dtype, f"up{i}_conv")(x)
        x = InstanceNormalization(per_frame=norm == "frame", dtype=dtype, name=f"up{i}_norm")(x)
        x = keras.layers.ReLU(dtype=dtype, name=f"up{i}_relu")(x)

    x = ReflectionPadding(tuple(k // 2 for k in stem), dtype=dtype, name="head_pad")(x)
    x = conv_layer(rank, out_channels, stem, dtype=dtype, name="head_conv")(x)
    # tanh in float32: the output feeds losses and is what users get back.
    x = keras.layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    outputs = CropToReference(dtype="float32", name="crop_to_input")(x, inputs)
    return keras.Model(inputs, outputs, name=name)


def patchgan_discriminator(
    rank=2,
    channels=3,
    filters=64,
    num_layers=3,
    kernel_size=4,
    temporal_kernel_size=3,
    temporal_stride=True,
    norm="clip",
    dtype=None,
    name="discriminator",
):
    """PatchGAN of Isola et al.: one real/fake logit per overlapping patch.

    With the defaults in 2D this is the 70x70 PatchGAN: C64-C128-C256-C512
    (4x4 kernels, stride 2 then 1, instance norm after the first,
    LeakyReLU 0.2), then a 1-channel 4x4 conv giving logits. In 3D the
    kernels get a time extent `temporal_kernel_size` (3 by default, zero
    padding 1: size-preserving at stride 1, so 8-frame clips still fit).

    Args:
        num_layers: stride-2 layers (3 gives the 70x70 receptive field).
        temporal_stride: rank 3 only; stride 2 over time in the stride-2 layers.
        norm: rank 3 only; "clip" or "frame" instance norm (see `resnet_generator`).
    """
    _check_rank(rank)
    if norm not in ("clip", "frame"):
        raise ValueError(f"`norm` must be 'clip' or 'frame', got {norm!r}.")
    spatial_kernel = (kernel_size,) * 2
    kernel = spatial_kernel if rank == 2 else (temporal_kernel_size,) + spatial_kernel
    pad = tuple(1 for _ in kernel)
    down = _strides(rank, temporal_stride)
    pad_cls = keras.layers.ZeroPadding2D if rank == 2 else keras.layers.ZeroPadding3D

    inputs = keras.Input((None,) * rank + (channels,), name="video")
    x = inputs
    width = filters
    for i in range(num_layers + 1):
        strides = down if i < num_layers else 1
        x = pad_cls(pad, dtype=dtype, name=f"layer{i}_pad")(x)
        x = conv_layer(rank, width, kernel, strides, dtype=dtype, name=f"layer{i}_conv")(x)
        if i > 0:
            x = InstanceNormalization(per_frame=norm == "frame", dtype=dtype, name=f"layer{i}_norm")(x)
        x = keras.layers.LeakyReLU(0.2, dtype=dtype, name=f"layer{i}_lrelu")(x)
        width = min(width * 2, filters * 8)
    x = pad_cls(pad, dtype=dtype, name="logits_pad")(x)
    # Logits in float32 so the loss is not computed on rounded values.
    outputs = conv_layer(rank, 1, kernel, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def stackable(networks, batches):
    """Whether `batches` may share one call of any of `networks` (`call_stacked`).

    The batches must agree in shape and dtype, and no network may mix samples (batch
    normalization, the reference generator's option): every other layer here works per
    sample, so each sample's output and gradient are those of its own call.
    """
    first = batches[0]
    if any(tuple(x.shape) != tuple(first.shape) or x.dtype != first.dtype for x in batches):
        return False
    return not any(isinstance(layer, keras.layers.BatchNormalization)
                   for net in networks for layer in net._flatten_layers(include_self=False))


def call_stacked(network, batches, training):
    """`network` on each of `batches` as one call (concatenated along the batch axis), split back in order.

    On torch/CPU one call of batch 2 costs 1.3-1.9x less per sample than two calls of
    batch 1: torch picks oneDNN over its im2col path and the GEMMs are wider.
    """
    outputs = network(ops.concatenate(batches, axis=0), training=training)
    starts = np.cumsum([0] + [int(x.shape[0]) for x in batches])
    return [outputs[start:stop] for start, stop in zip(starts[:-1], starts[1:])]
