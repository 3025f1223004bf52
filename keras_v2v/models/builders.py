"""The CycleGANs users build by name: `cyclegan_3d` (the paper's) and `cyclegan_2d` (the framewise baseline)."""

from keras_v2v.models.cyclegan import CycleGAN
from keras_v2v.models.networks import patchgan_discriminator, resnet_generator


def _patchgan_output_size(size, num_layers):
    for _ in range(num_layers):
        size = (size + 2 - 4) // 2 + 1
    return size - 2  # the stride-1 layer and the logits each take one off


def _check_discriminator_fits(spatial, num_layers):
    smallest = min(spatial)
    if _patchgan_output_size(smallest, num_layers) < 1:
        fits = [n for n in range(num_layers) if _patchgan_output_size(smallest, n) >= 1]
        hint = f" or discriminator_layers={fits[-1]}" if fits else ""
        raise ValueError(
            f"A PatchGAN with {num_layers} stride-2 layers needs frames larger than "
            f"{tuple(spatial)}; use a larger input_shape{hint}."
        )


def _build(rank, input_shape, channels_b, filters, num_blocks, disc_filters, disc_layers,
           domains, name, dtype, generator_kwargs, discriminator_kwargs):
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != rank + 1:
        layout = "(H, W, C)" if rank == 2 else "(D, H, W, C)"
        raise ValueError(
            f"`input_shape` for a {rank}D model must be {layout}, got {input_shape!r}."
        )
    _check_discriminator_fits(input_shape[-3:-1], disc_layers)
    channels_a = input_shape[-1]
    channels_b = int(channels_b or channels_a)
    gen = dict(rank=rank, filters=filters, num_blocks=num_blocks, dtype=dtype, **generator_kwargs)
    disc = dict(rank=rank, filters=disc_filters, num_layers=disc_layers, dtype=dtype, **discriminator_kwargs)
    return CycleGAN(
        resnet_generator(channels=channels_a, out_channels=channels_b, name="generator_a2b", **gen),
        resnet_generator(channels=channels_b, out_channels=channels_a, name="generator_b2a", **gen),
        patchgan_discriminator(channels=channels_a, name="discriminator_a", **disc),
        patchgan_discriminator(channels=channels_b, name="discriminator_b", **disc),
        input_shape=input_shape,
        channels_b=channels_b,
        domains=domains,
        name=name,
    )


def cyclegan_3d(
    input_shape=(8, 64, 64, 3),
    channels_b=None,
    filters=32,
    num_blocks=6,
    discriminator_filters=32,
    discriminator_layers=3,
    temporal_stride=True,
    stem_kernel_size=7,
    upsampling="resize",
    norm="clip",
    discriminator_temporal_kernel=3,
    domains=("a", "b"),
    dtype=None,
    name="cyclegan_3d",
):
    """The paper's 3D CycleGAN: Conv3D ResNet generators and 3D PatchGANs.

    `input_shape` is (D, H, W, C) of one training clip (the paper: 8x108x192x3
    for GTA, 30x84x84x1 for MNIST, with filters=64 and num_blocks=9).
    See `resnet_generator` for `temporal_stride`, `stem_kernel_size`,
    `upsampling` and `norm`; `discriminator_temporal_kernel` is the time
    extent of the 3D PatchGAN's kernels (3: each logit sees 9 frames with 2
    stride-2 layers and no temporal stride).
    """
    return _build(
        3, input_shape, channels_b, filters, num_blocks, discriminator_filters,
        discriminator_layers, domains, name, dtype,
        dict(temporal_stride=temporal_stride, stem_kernel_size=stem_kernel_size, upsampling=upsampling, norm=norm),
        dict(temporal_stride=temporal_stride, temporal_kernel_size=discriminator_temporal_kernel),
    )


def cyclegan_2d(
    input_shape=(64, 64, 3),
    channels_b=None,
    filters=32,
    num_blocks=6,
    discriminator_filters=32,
    discriminator_layers=3,
    upsampling="resize",
    domains=("a", "b"),
    dtype=None,
    name="cyclegan_2d",
):
    """The framewise baseline: the CycleGAN of Zhu et al. on single frames.

    The paper's "random", "sequential" and "const" baselines are this model
    trained on different batches (see `keras_v2v.data.UnpairedVideoDataset`)
    and, for "const", compiled with `lambda_temporal > 0`.
    """
    return _build(
        2, input_shape, channels_b, filters, num_blocks, discriminator_filters,
        discriminator_layers, domains, name, dtype,
        dict(upsampling=upsampling), {},
    )
