"""The reference PyTorch CycleGAN's generator checkpoints (`latest_net_G_A.pth`) in keras-v2v, both ways.

`from_reference_checkpoint` reads the state dicts that pytorch-CycleGAN-and-pix2pix saves
for its ResnetGenerator (`--netG resnet_9blocks` / `resnet_6blocks`, any `--ngf`, instance
or batch norm, with or without dropout, DataParallel's `module.` prefix) into
`reference_resnet_generator`s, which compute what PyTorch computes. The architecture is
read from the tensors' names and shapes; anything else (U-Net generators, discriminators,
other projects' layouts) is refused with one line saying what was found.

Files are read with `torch.load(weights_only=True)` only: a state dict is tensors, and a
file that needs arbitrary unpickling is refused rather than executed.

`reference_state_dict` goes the other way, for generators of the reference layout.
"""

import os
import re
import warnings
from collections.abc import Mapping

import numpy as np

from keras_v2v.models.reference import generator_options, reference_resnet_generator

TORCH_EXTRA = "pip install keras-v2v[torch]"
PREFIX = "module."  # what torch.nn.DataParallel adds to every name
STEM, DOWN = 1, (4, 7)  # Sequential indices of the stem conv and the two stride-2 convs
FIRST_BLOCK = 10
SUPPORTED = "the ResnetGenerator (--netG resnet_9blocks or resnet_6blocks)"


class UntrainedGeneratorWarning(UserWarning):
    """Only one direction's checkpoint was given: the other generator is freshly initialised."""


def read_state_dict(path):
    """{name: float32 or int numpy array} from a `.pth` state dict, loaded with weights_only=True."""
    path = os.fspath(path)
    try:
        import torch
    except ImportError:
        raise ImportError(f"reading {path} needs PyTorch, an optional extra of keras-v2v: {TORCH_EXTRA}") from None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file at {path!r} (expected a .pth state dict such as "
                                "latest_net_G_A.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for what it refuses
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise ValueError(f"{path}: torch.load(weights_only=True) refused it ({reason}); keras-v2v reads plain "
                         "state dicts only (torch.save(net.state_dict(), path)), never pickled objects") from None
    if not isinstance(state, Mapping) or not all(torch.is_tensor(v) for v in state.values()):
        found = type(state).__name__ if not isinstance(state, Mapping) else \
            f"a dict holding {sorted({type(v).__name__ for v in state.values()})}"
        raise ValueError(f"{path}: expected a state dict (names -> tensors), found {found}")
    return {name: (value.float() if value.is_floating_point() else value).numpy() for name, value in state.items()}


def _describe(state):
    shown = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in list(state.items())[:3])
    return f"{len(state)} tensors ({shown}{', ...' if len(state) > 3 else ''})"


def _strip_prefix(state):
    if state and all(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX):]: v for k, v in state.items()}
    return dict(state)


def _refuse(label, state, what):
    raise ValueError(f"{label}: {what}; found {_describe(state)}. keras-v2v reads {SUPPORTED} only "
                     "(U-Net generators unet_128 / unet_256 are not supported)")


def detect_layout(state, label="checkpoint"):
    """The `reference_resnet_generator` arguments a (prefix-free) reference state dict was saved from."""
    if not state:
        raise ValueError(f"{label}: the state dict is empty")
    if any(k.startswith("model.model.") for k in state):
        _refuse(label, state, "this is a U-Net generator (nested model.model... blocks)")
    stem = state.get(f"model.{STEM}.weight")
    if stem is None or np.ndim(stem) != 4 or tuple(np.shape(stem)[2:]) != (7, 7):
        first = state.get("model.0.weight")
        if first is not None and np.ndim(first) == 4 and tuple(np.shape(first)[2:]) == (4, 4):
            _refuse(label, state, "this is a PatchGAN discriminator (latest_net_D_*.pth), not a generator")
        _refuse(label, state, f"no 7x7 stem convolution at model.{STEM}.weight")
    filters, channels = (int(s) for s in np.shape(stem)[:2])
    use_bias = f"model.{STEM}.bias" in state
    batch_stats = f"model.{STEM + 1}.running_mean" in state
    if not use_bias and not batch_stats:
        _refuse(label, state, "convolutions without biases (batch norm's layout) but no running statistics at "
                              f"model.{STEM + 1}")
    blocks = sorted({int(m.group(1)) for k in state for m in [re.match(r"model\.(\d+)\.conv_block\.", k)] if m})
    if blocks != list(range(FIRST_BLOCK, FIRST_BLOCK + len(blocks))):
        _refuse(label, state, f"residual blocks at model.{blocks} instead of model.{FIRST_BLOCK} onwards")
    head = state.get(f"model.{FIRST_BLOCK + len(blocks) + 7}.weight")
    if head is None or np.ndim(head) != 4:
        _refuse(label, state, f"{len(blocks)} residual blocks but no 7x7 head convolution after them")
    return dict(
        channels=channels,
        out_channels=int(np.shape(head)[0]),
        filters=filters,
        num_blocks=len(blocks),
        # The reference gives its convolutions biases exactly when the norm is instance norm.
        norm="instance" if use_bias else "batch",
        affine=bool(use_bias and f"model.{STEM + 1}.weight" in state),
        # Dropout(0.5) shifts a block's second conv from Sequential index 5 to 6 (index 5 is its norm then).
        dropout=0.5 if np.ndim(state.get(f"model.{FIRST_BLOCK}.conv_block.6.weight")) == 4 else 0.0,
    )


def _mapping(num_blocks, dropout):
    """(reference module name, keras layer name, kind) for every layer holding weights."""
    rows = [(f"model.{STEM}", "stem_conv", "conv"), (f"model.{STEM + 1}", "stem_norm", "norm")]
    for i, index in enumerate(DOWN):
        rows += [(f"model.{index}", f"down{i}_conv", "conv"), (f"model.{index + 1}", f"down{i}_norm", "norm")]
    second = 6 if dropout else 5  # Dropout takes Sequential index 4 inside a block
    for i in range(num_blocks):
        block = f"model.{FIRST_BLOCK + i}.conv_block"
        rows += [(f"{block}.1", f"block{i}_conv1", "conv"), (f"{block}.2", f"block{i}_norm1", "norm"),
                 (f"{block}.{second}", f"block{i}_conv2", "conv"), (f"{block}.{second + 1}", f"block{i}_norm2", "norm")]
    up = FIRST_BLOCK + num_blocks
    rows += [(f"model.{up}", "up0_conv", "transpose"), (f"model.{up + 1}", "up0_norm", "norm"),
             (f"model.{up + 3}", "up1_conv", "transpose"), (f"model.{up + 4}", "up1_norm", "norm"),
             (f"model.{up + 7}", "head_conv", "conv")]
    return rows


# Keras weight order per kind, with the reference's name for each.
_NORM_FIELDS = {"instance": ("weight", "bias"), "batch": ("weight", "bias", "running_mean", "running_var")}
# Tensors the reference itself ignores: instance norms' running statistics saved by PyTorch < 0.4
# (its loader deletes them) and BatchNorm's step counter.
_IGNORED = re.compile(r"(running_mean|running_var|num_batches_tracked)$")


def load_state_dict(generator, state, label="checkpoint"):
    """Copies a reference state dict into a `reference_resnet_generator` of the matching layout."""
    options = generator_options(generator)
    state = _strip_prefix(state)
    used = set()
    for module, layer_name, kind in _mapping(options["num_blocks"], options["dropout"]):
        layer = generator.get_layer(layer_name)
        if kind == "norm":
            fields = _NORM_FIELDS[options["norm"]] if layer.weights else ()
        else:
            fields = ("weight", "bias") if layer.use_bias else ("weight",)
        values = []
        for field, variable in zip(fields, layer.weights):
            key = f"{module}.{field}"
            if key not in state:
                raise ValueError(f"{label}: missing {key} (a {options['norm']} norm ResnetGenerator with "
                                 f"{options['num_blocks']} blocks has it)")
            value = np.asarray(state[key], "float32")
            if value.ndim == 4:
                # Conv2d (out, in, kh, kw) and ConvTranspose2d (in, out, kh, kw) both become
                # Keras' (kh, kw, in, out) and (kh, kw, out, in): the same axis order.
                value = value.transpose(2, 3, 1, 0)
            if value.shape != tuple(variable.shape):
                raise ValueError(f"{label}: {key} has shape {np.shape(state[key])}, but the layout read from the "
                                 f"file ({_summary(options)}) needs {tuple(variable.shape)} for {layer_name}")
            values.append(value)
            used.add(key)
        layer.set_weights(values)
    leftover = sorted(k for k in state if k not in used and not _IGNORED.search(k))
    if leftover:
        raise ValueError(f"{label}: tensors that a {_summary(options)} ResnetGenerator does not have: "
                         f"{', '.join(leftover[:4])}{', ...' if len(leftover) > 4 else ''}")
    return generator


def _summary(options):
    affine = " affine" if options.get("affine") else ""
    return (f"ngf={options['filters']}, {options['num_blocks']} blocks, {options['norm']}{affine} norm, "
            f"{options['channels']}->{options['out_channels']} channels")


def generator_from_state_dict(state, label="checkpoint", name="generator", dtype=None):
    """A `reference_resnet_generator` holding a reference state dict (a path or {name: array})."""
    if not isinstance(state, Mapping):
        label = os.fspath(state)
        state = read_state_dict(state)
    state = _strip_prefix(state)
    layout = detect_layout(state, label)
    generator = reference_resnet_generator(rank=2, name=name, dtype=dtype, **layout)
    return load_state_dict(generator, state, label)


def reference_state_dict(generator):
    """{reference name: float32 array} of a reference-layout generator: what `torch.save` would hold.

    Instance norms save nothing (the reference's InstanceNorm2d keeps no running statistics);
    batch norms also get `num_batches_tracked` (0), as PyTorch writes it.
    """
    options = generator_options(generator)
    state = {}
    for module, layer_name, kind in _mapping(options["num_blocks"], options["dropout"]):
        layer = generator.get_layer(layer_name)
        values = [np.asarray(w, "float32") for w in layer.get_weights()]
        if kind == "norm":
            fields = _NORM_FIELDS[options["norm"]][:len(values)]
        else:
            fields = ("weight", "bias")[:len(values)]
        for field, value in zip(fields, values):
            state[f"{module}.{field}"] = value.transpose(3, 2, 0, 1) if value.ndim == 4 else value
        if kind == "norm" and options["norm"] == "batch":
            state[f"{module}.num_batches_tracked"] = np.zeros((), "int64")
    return state


def from_reference_checkpoint(g_a2b="latest_net_G_A.pth", g_b2a=None, input_shape=(256, 256), domains=("a", "b"),
                              discriminators=None, discriminator_filters=64, discriminator_layers=3, dtype=None,
                              name="cyclegan_2d_reference"):
    """The reference PyTorch CycleGAN's generators as a 2D keras-v2v `CycleGAN`.

    Args:
        g_a2b: `latest_net_G_A.pth` (A -> B), a path or an already-read {name: array} state dict.
        g_b2a: `latest_net_G_B.pth` (B -> A). None: only one direction was trained or kept;
            the B -> A generator is then freshly initialised (a warning says so), so the model
            translates A -> B and can still be fine-tuned.
        input_shape: (height, width) the generators were trained at (the reference's
            --crop_size, 256 by default): the sample shape fine-tuning and `inflate` use.
            Translation takes any frame size.
        domains: names of domains A and B.
        discriminators: None (generators only: translation; what the checkpoints hold) or
            "fresh" (new PatchGANs, `discriminator_filters` wide with `discriminator_layers`
            stride-2 layers (3: 70x70 patches), so that the model can be fine-tuned, or inflated
            and fine-tuned).

    Returns:
        A `CycleGAN` whose generators are `reference_resnet_generator`s: its output equals the
        reference's in float32 to about 1e-5 (tests/test_reference_checkpoint.py).
    """
    from keras_v2v.models.builders import _check_discriminator_fits
    from keras_v2v.models.cyclegan import CycleGAN
    from keras_v2v.models.networks import patchgan_discriminator

    if discriminators not in (None, "fresh"):
        raise ValueError(f"`discriminators` must be None or 'fresh', got {discriminators!r}.")
    if len(tuple(input_shape)) != 2:
        raise ValueError(f"`input_shape` is the (height, width) of the training frames, got {input_shape!r}.")
    a2b = generator_from_state_dict(g_a2b, name="generator_a2b", dtype=dtype)
    options = generator_options(a2b)
    if g_b2a is None:
        warnings.warn(f"no B -> A checkpoint given: generator_b2a is freshly initialised ({_summary(options)} "
                      "mirrored); translate A -> B only, or fine-tune both.", UntrainedGeneratorWarning,
                      stacklevel=2)
        mirrored = dict(options, channels=options["out_channels"], out_channels=options["channels"])
        b2a = reference_resnet_generator(rank=2, name="generator_b2a", **mirrored)
    else:
        b2a = generator_from_state_dict(g_b2a, name="generator_b2a", dtype=dtype)
    back = generator_options(b2a)
    if (back["channels"], back["out_channels"]) != (options["out_channels"], options["channels"]):
        raise ValueError(f"{g_b2a}: maps {back['channels']} -> {back['out_channels']} channels, but the A -> B "
                         f"generator maps {options['channels']} -> {options['out_channels']}; are G_A and G_B "
                         "from the same model?")
    channels_a, channels_b = options["channels"], options["out_channels"]
    critics = [None, None]
    if discriminators == "fresh":
        _check_discriminator_fits(tuple(input_shape), discriminator_layers)  # frames too small give empty logits
        critics = [patchgan_discriminator(rank=2, channels=c, filters=discriminator_filters,
                                          num_layers=discriminator_layers, dtype=dtype, name=f"discriminator_{d}")
                   for c, d in ((channels_a, "a"), (channels_b, "b"))]
    return CycleGAN(a2b, b2a, *critics, input_shape=tuple(int(s) for s in input_shape) + (channels_a,),
                    channels_b=channels_b, domains=tuple(domains), name=name)
