"""The reference PyTorch CycleGAN's ResnetGenerator, computed exactly, in 2D and (inflated) 3D.

The reference (Zhu et al., pytorch-CycleGAN-and-pix2pix, `networks.ResnetGenerator`) is:
ReflectionPad2d(3), Conv2d 7x7, norm, ReLU; two Conv2d(3, stride 2, padding=1), norm, ReLU;
N ResnetBlocks (ReflectionPad2d(1), Conv2d 3x3, norm, ReLU, [Dropout(0.5)], ReflectionPad2d(1),
Conv2d 3x3, norm, plus the input); two ConvTranspose2d(3, stride 2, padding=1, output_padding=1),
norm, ReLU; ReflectionPad2d(3), Conv2d 7x7, Tanh. Its convolutions have biases only with
instance norm (batch norm's shift replaces them); the head always has one.

keras-v2v's own `resnet_generator(upsampling="transpose")` is close but not equal, so
converted checkpoints are built here instead:
- the reference pads its stride-2 convolutions with zeros; `resnet_generator` reflects;
- the reference's transposed convolution writes input i, tap k to output 2i + k - 1, while
  Keras' Conv2DTranspose(padding="same") writes it to 2i + k: one pixel later. Here a
  "valid" transposed convolution (outputs 0 .. 2n) is cropped to 1 .. 2n, the reference's grid.

Only Keras' built-in layers and keras-v2v's registered ones are used, so the model
serializes like any other preset. With `rank=3` the same network is built with a time
extent (`temporal_kernel` in the body, `stem_temporal_kernel` in the stem and head), no
stride over time and norms per frame: `keras_v2v.inflate` uses that to turn a converted
generator into a video generator. Time is padded by reflection, as in keras-v2v's 3D nets.
"""

import keras

from keras_v2v.models.layers import CropToReference, InstanceNormalization, PadToValidSize, ReflectionPadding

NORMS = ("instance", "batch")
# The reference hard-codes two stride-2 steps down and two up.
NUM_DOWNSAMPLINGS = 2
# A marker layer name: only this builder makes it, so `is_reference_generator` can tell the layouts apart.
MARKER = "up0_crop"


def _norm(kind, affine, rank, dtype, name):
    if kind == "batch":
        # The reference's BatchNorm2d: momentum 0.1 in PyTorch's convention is 0.9 in Keras'.
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, dtype=dtype, name=name)
    return InstanceNormalization(epsilon=1e-5, center=affine, scale=affine, per_frame=rank == 3, dtype=dtype,
                                 name=name)


def _pad(x, rank, time, space, mode, dtype, name):
    """Pads space by reflection or zeros, as the reference pads that layer, and time (rank 3) by reflection."""
    if mode == "reflect":
        pads = (space, space) if rank == 2 else (time, space, space)
        return ReflectionPadding(pads, dtype=dtype, name=name)(x) if any(pads) else x
    if rank == 3 and time:
        x = ReflectionPadding((time, 0, 0), dtype=dtype, name=f"{name}_time")(x)
    zero = keras.layers.ZeroPadding2D if rank == 2 else keras.layers.ZeroPadding3D
    return zero(((0, 0),) * (rank - 2) + ((space, space), (space, space)), dtype=dtype, name=name)(x)


def _conv(rank, filters, kernel, time, strides=1, use_bias=True, dtype=None, name=None):
    cls = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    kernel = (kernel, kernel) if rank == 2 else (time, kernel, kernel)
    strides = (strides, strides) if rank == 2 else (1, strides, strides)
    return cls(filters, kernel, strides=strides, padding="valid", use_bias=use_bias, dtype=dtype, name=name)


def _transpose_up(x, rank, filters, time, use_bias, dtype, name):
    """ConvTranspose2d(3, stride 2, padding 1, output_padding 1): outputs 1 .. 2n of a 'valid' one."""
    half = time // 2
    x = _pad(x, rank, half, 0, "reflect", dtype, f"{name}_pad")
    if rank == 2:
        x = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="valid", use_bias=use_bias, dtype=dtype,
                                         name=f"{name}_conv")(x)
        return keras.layers.Cropping2D(((1, 0), (1, 0)), dtype=dtype, name=f"{name}_crop")(x)
    x = keras.layers.Conv3DTranspose(filters, (time, 3, 3), strides=(1, 2, 2), padding="valid", use_bias=use_bias,
                                     dtype=dtype, name=f"{name}_conv")(x)
    # Time: reflection-padded by `half` and widened by `2 * half` more; keep the middle (a size-keeping conv).
    return keras.layers.Cropping3D(((2 * half, 2 * half), (1, 0), (1, 0)), dtype=dtype, name=f"{name}_crop")(x)


def reference_resnet_generator(rank=2, channels=3, out_channels=None, filters=64, num_blocks=9, norm="instance",
                               affine=False, dropout=0.0, temporal_kernel=3, stem_temporal_kernel=1, dtype=None,
                               name="generator"):
    """The reference ResnetGenerator (see the module docstring); outputs equal PyTorch's to float rounding.

    Frames whose sides are not multiples of 4 (or are under 8) are edge-padded up to them and
    cropped back, as in `resnet_generator`; the reference itself returns 4 * ceil(side / 4)
    pixels there (its data loader resizes frames to multiples of 4 instead).

    Args:
        rank: 2 for frames (N, H, W, C); 3 for clips (N, D, H, W, C), the inflated form.
        channels, out_channels: input_nc and output_nc (out_channels defaults to channels).
        filters: ngf, the stem's width; the bottleneck is 4x this.
        num_blocks: residual blocks (resnet_9blocks, resnet_6blocks; any number is built).
        norm: "instance" (InstanceNorm2d; convolutions have biases) or "batch" (BatchNorm2d with
            running statistics, used in inference; convolutions without biases).
        affine: instance norm with a learned scale and shift (the reference's default is without).
        dropout: 0.5 for generators trained without --no_dropout (Dropout between the block's convs).
        temporal_kernel, stem_temporal_kernel: rank 3 only; odd time extents of the body and of
            the stem and head convolutions.
    """
    if rank not in (2, 3):
        raise ValueError(f"reference_resnet_generator: `rank` must be 2 or 3, got {rank!r}.")
    if norm not in NORMS:
        raise ValueError(f"reference_resnet_generator: `norm` must be one of {NORMS}, got {norm!r}.")
    if num_blocks < 0 or filters < 1:
        raise ValueError(f"reference_resnet_generator: needs filters >= 1 and num_blocks >= 0, got {filters} and "
                         f"{num_blocks}.")
    time, stem_time = (int(temporal_kernel), int(stem_temporal_kernel)) if rank == 3 else (1, 1)
    if time % 2 == 0 or stem_time % 2 == 0 or time < 1 or stem_time < 1:
        raise ValueError(f"reference_resnet_generator: temporal kernels must be odd, got {time} and {stem_time}.")
    out_channels = channels if out_channels is None else out_channels
    use_bias = norm == "instance"
    # Sizes: multiples of the total stride, and large enough for the reflection pads (3 at the
    # stem, 1 at the bottleneck, a quarter of the size); time is never strided.
    multiple, minimum = (4, 4), (8, 8)
    if rank == 3:
        multiple, minimum = (1,) + multiple, (max(time, stem_time) // 2 + 1,) + minimum

    inputs = keras.Input((None,) * rank + (channels,), name="video")
    x = PadToValidSize(multiple, minimum, dtype=dtype, name="pad_to_valid")(inputs)
    x = _pad(x, rank, stem_time // 2, 3, "reflect", dtype, "stem_pad")
    x = _conv(rank, filters, 7, stem_time, use_bias=use_bias, dtype=dtype, name="stem_conv")(x)
    x = _norm(norm, affine, rank, dtype, "stem_norm")(x)
    x = keras.layers.ReLU(dtype=dtype, name="stem_relu")(x)

    width = filters
    for i in range(NUM_DOWNSAMPLINGS):
        width *= 2
        x = _pad(x, rank, time // 2, 1, "zero", dtype, f"down{i}_pad")
        x = _conv(rank, width, 3, time, strides=2, use_bias=use_bias, dtype=dtype, name=f"down{i}_conv")(x)
        x = _norm(norm, affine, rank, dtype, f"down{i}_norm")(x)
        x = keras.layers.ReLU(dtype=dtype, name=f"down{i}_relu")(x)

    for i in range(num_blocks):
        y = _pad(x, rank, time // 2, 1, "reflect", dtype, f"block{i}_pad1")
        y = _conv(rank, width, 3, time, use_bias=use_bias, dtype=dtype, name=f"block{i}_conv1")(y)
        y = _norm(norm, affine, rank, dtype, f"block{i}_norm1")(y)
        y = keras.layers.ReLU(dtype=dtype, name=f"block{i}_relu")(y)
        if dropout:
            y = keras.layers.Dropout(dropout, dtype=dtype, name=f"block{i}_dropout")(y)
        y = _pad(y, rank, time // 2, 1, "reflect", dtype, f"block{i}_pad2")
        y = _conv(rank, width, 3, time, use_bias=use_bias, dtype=dtype, name=f"block{i}_conv2")(y)
        y = _norm(norm, affine, rank, dtype, f"block{i}_norm2")(y)
        x = keras.layers.Add(dtype=dtype, name=f"block{i}_add")([x, y])

    for i in range(NUM_DOWNSAMPLINGS):
        width //= 2
        x = _transpose_up(x, rank, width, time, use_bias, dtype, f"up{i}")
        x = _norm(norm, affine, rank, dtype, f"up{i}_norm")(x)
        x = keras.layers.ReLU(dtype=dtype, name=f"up{i}_relu")(x)

    x = _pad(x, rank, stem_time // 2, 3, "reflect", dtype, "head_pad")
    x = _conv(rank, out_channels, 7, stem_time, dtype=dtype, name="head_conv")(x)
    # tanh in float32, as in resnet_generator: the output feeds losses and is what users get.
    x = keras.layers.Activation("tanh", dtype="float32", name="head_tanh")(x)
    outputs = CropToReference(dtype="float32", name="crop_to_input")(x, inputs)
    return keras.Model(inputs, outputs, name=name)


def is_reference_generator(model):
    """True for a network `reference_resnet_generator` built (in any rank)."""
    return any(layer.name == MARKER for layer in getattr(model, "layers", ()))


def generator_options(generator):
    """The `reference_resnet_generator` arguments a generator was built with, read from its layers."""
    if not is_reference_generator(generator):
        raise ValueError(f"{generator.name!r} is not a reference-layout generator (it has no {MARKER!r} layer).")
    layers = {layer.name: layer for layer in generator.layers}
    stem_norm = layers["stem_norm"]
    batch = isinstance(stem_norm, keras.layers.BatchNormalization)
    dropout = layers.get("block0_dropout")
    return dict(
        channels=int(generator.inputs[0].shape[-1]),
        out_channels=int(layers["head_conv"].filters),
        filters=int(layers["stem_conv"].filters),
        num_blocks=sum(1 for name in layers if name.startswith("block") and name.endswith("_conv1")),
        norm="batch" if batch else "instance",
        affine=bool(not batch and stem_norm.scale),
        dropout=float(dropout.rate) if dropout is not None else 0.0,
        dtype=generator.dtype_policy.name,
    )
