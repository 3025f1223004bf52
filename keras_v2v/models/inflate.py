"""A trained 2D (framewise) CycleGAN as a 3D one, I3D-style (Carreira & Zisserman 2017).

Every 2D kernel becomes a 3D kernel with a time extent; with `init="center"`
the 2D weights sit in the middle tap and the others are zero, norms are per
frame and time is never strided, so before any training the 3D model's
output equals the 2D model's frame by frame. Fine-tuning with a 3D critic
and a temporal loss then teaches it to use the frames around each one.
"""

import keras
import numpy as np

from keras_v2v.models.cyclegan import CycleGAN
from keras_v2v.models.networks import patchgan_discriminator, resnet_generator
from keras_v2v.models.reference import generator_options, is_reference_generator, reference_resnet_generator

INITS = ("center", "mean")


def _generator_options(generator):
    """The `resnet_generator` arguments a 2D generator was built with, read from its layers."""
    layers = {layer.name: layer for layer in generator.layers}
    missing = [n for n in ("stem_conv", "head_conv", "up0_conv") if n not in layers]
    if missing or len(generator.inputs[0].shape) != 4:
        raise ValueError(
            f"inflate needs a 2D keras-v2v ResNet generator (resnet_generator(rank=2)); "
            f"{generator.name!r} has input shape {tuple(generator.inputs[0].shape)} and lacks layers {missing}."
        )
    stem = layers["stem_conv"]
    blocks = [layer for name, layer in layers.items() if name.startswith("block")]
    dropout = blocks[0].dropout if blocks else 0.0
    transpose = isinstance(layers["up0_conv"], keras.layers.Conv2DTranspose)
    return dict(
        channels=int(generator.inputs[0].shape[-1]),
        out_channels=int(layers["head_conv"].filters),
        filters=int(stem.filters),
        num_blocks=len(blocks),
        stem=tuple(stem.kernel_size),
        body=tuple(blocks[0].kernel_size) if blocks else tuple(layers["down0_conv"].kernel_size),
        upsampling="transpose" if transpose else "resize",
        dropout=float(dropout),
        dtype=generator.dtype_policy.name,
    )


def _discriminator_options(discriminator):
    convs = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs or convs[-1].name != "logits":
        raise ValueError(f"inflate needs a 2D keras-v2v PatchGAN (patchgan_discriminator(rank=2)); "
                         f"{discriminator.name!r} is not one.")
    return dict(
        channels=int(discriminator.inputs[0].shape[-1]),
        filters=int(convs[0].filters),
        num_layers=len(convs) - 2,
        kernel_size=int(convs[0].kernel_size[0]),
        dtype=discriminator.dtype_policy.name,
    )


def _inflated_kernel(kernel, taps, init):
    """(kh, kw, ...) -> (taps, kh, kw, ...): the 2D kernel in the centre tap, or spread over all taps."""
    kernel = np.asarray(kernel)
    out = np.zeros((taps,) + kernel.shape, kernel.dtype)
    if init == "center":
        out[taps // 2] = kernel
    else:
        # Spread evenly: equal to the 2D model on a still clip, a temporal average otherwise.
        out[:] = kernel / taps
    return out


def _copy_weights(source, target, init):
    """Copies every weight of the 2D network into the 3D one, matched by path, inflating kernels."""
    target_by_path = {v.path: v for v in target.weights}
    for variable in source.weights:
        path = variable.path
        if path not in target_by_path:
            raise ValueError(f"inflate: the 3D network has no weight {path!r} to receive the 2D one")
        destination = target_by_path.pop(path)
        value = keras.ops.convert_to_numpy(variable)
        if value.ndim + 1 == len(destination.shape):
            value = _inflated_kernel(value, destination.shape[0], init)
        if tuple(value.shape) != tuple(destination.shape):
            raise ValueError(f"inflate: weight {path!r} is {value.shape} in 2D but {tuple(destination.shape)} in 3D")
        destination.assign(value.astype(keras.backend.standardize_dtype(destination.dtype)))
    if target_by_path:
        raise ValueError(f"inflate: 3D weights with no 2D counterpart: {sorted(target_by_path)}")


def inflate_generator(generator, temporal_kernel=3, stem_temporal_kernel=1, init="center", name=None):
    """A 3D `resnet_generator` holding a 2D one's weights (see `inflate`)."""
    if is_reference_generator(generator):
        # A converted reference checkpoint: its own layout (zero-padded strides, PyTorch's transposed conv), in 3D.
        generator_3d = reference_resnet_generator(
            rank=3, temporal_kernel=temporal_kernel, stem_temporal_kernel=stem_temporal_kernel,
            name=name or generator.name, **generator_options(generator),
        )
        _copy_weights(generator, generator_3d, init)
        return generator_3d
    options = _generator_options(generator)
    body, stem = options.pop("body"), options.pop("stem")
    generator_3d = resnet_generator(
        rank=3,
        stem_kernel_size=(stem_temporal_kernel,) + stem,
        kernel_size=(temporal_kernel,) + body,
        temporal_stride=False,
        norm="frame",
        name=name or generator.name,
        **options,
    )
    _copy_weights(generator, generator_3d, init)
    return generator_3d


def inflate_discriminator(discriminator, temporal_kernel=3, init="center", name=None):
    """A 3D PatchGAN holding a 2D one's weights; before training it judges each frame as the 2D one did."""
    options = _discriminator_options(discriminator)
    discriminator_3d = patchgan_discriminator(
        rank=3, temporal_kernel_size=temporal_kernel, temporal_stride=False, norm="frame",
        name=name or discriminator.name, **options,
    )
    _copy_weights(discriminator, discriminator_3d, init)
    return discriminator_3d


def inflate(model, clip_length=8, temporal_kernel=3, stem_temporal_kernel=1, init="center",
            discriminators="inflate", name=None):
    """A 2D CycleGAN (or its preset) as a 3D CycleGAN, equal to it frame by frame before training.

    Args:
        model: a 2D `CycleGAN` (e.g. `from_pretrained("street-seg2rgb-2d-random")`).
        clip_length: frames per training clip (the 3D model's window in `translate`).
        temporal_kernel: time extent of the body convolutions (3: each layer sees t-1, t, t+1).
        stem_temporal_kernel: time extent of the 7x7 stem and head convolutions (1 keeps
            them framewise and cheap; the body convolutions give the temporal context).
        init: "center" (2D kernel in the middle tap: framewise-equal output before training)
            or "mean" (spread over the taps: equal only on a still clip).
        discriminators: "inflate" (3D PatchGANs started from the 2D ones), "fresh" (new 3D
            PatchGANs of the same width), or None (generators only, for inference).

    Returns:
        A `CycleGAN` with `input_shape = (clip_length, H, W, C)`, not compiled.
    """
    if not isinstance(model, CycleGAN) or model.rank != 2:
        found = f"a {model.rank}D CycleGAN" if isinstance(model, CycleGAN) else type(model).__name__
        raise ValueError(f"inflate takes a 2D CycleGAN (a framewise model or its preset), got {found}.")
    if init not in INITS:
        raise ValueError(f"`init` must be one of {INITS}, got {init!r}.")
    for arg, value in (("clip_length", clip_length), ("temporal_kernel", temporal_kernel),
                       ("stem_temporal_kernel", stem_temporal_kernel)):
        if int(value) != value or value < 1:
            raise ValueError(f"`{arg}` must be a positive integer, got {value!r}.")
    for arg, value in (("temporal_kernel", temporal_kernel), ("stem_temporal_kernel", stem_temporal_kernel)):
        if value % 2 == 0:
            raise ValueError(f"`{arg}` must be odd so that the centre tap is frame t, got {value}.")
    if discriminators not in ("inflate", "fresh", None):
        raise ValueError(f"`discriminators` must be 'inflate', 'fresh' or None, got {discriminators!r}.")
    if discriminators and len(model.discriminators) < 2:
        raise ValueError(f"{model.name} was loaded without discriminators; load it with discriminators=True "
                         "or pass discriminators=None for an inference-only 3D model.")
    generators = [inflate_generator(g, temporal_kernel, stem_temporal_kernel, init) for g in model.generators]
    critics = [None, None]
    if discriminators == "inflate":
        critics = [inflate_discriminator(d, temporal_kernel, init) for d in model.discriminators]
    elif discriminators == "fresh":
        critics = [patchgan_discriminator(rank=3, temporal_kernel_size=temporal_kernel, temporal_stride=False,
                                          norm="frame", name=d.name, **_discriminator_options(d))
                   for d in model.discriminators]
    return CycleGAN(
        *generators, *critics,
        input_shape=(int(clip_length),) + model.sample_shape,
        channels_b=model.channels_b,
        domains=model.domains,
        name=name or f"{model.name}_inflated",
    )
