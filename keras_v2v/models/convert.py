"""`keras-v2v convert`: reference PyTorch CycleGAN checkpoints as a preset folder, optionally as a video model.

The folder is an ordinary preset (`from_pretrained`, `keras-v2v translate --model`, the
demo load it). Its card and keras_v2v.json say where the weights came from (file names
and sha256), that the discriminators are absent (the reference's `latest_net_D_*.pth`
are not converted) or freshly initialised, and leave the licence for the user to fill
in: the weights are whoever trained them's, not keras-v2v's.
"""

import os

from keras_v2v.models.inflate import inflate as inflate_model
from keras_v2v.models.reference import generator_options
from keras_v2v.models.reference_checkpoint import from_reference_checkpoint
from keras_v2v.presets import cards, storage
from keras_v2v.presets.spec import model_spec

LICENCE_TODO = ("FILL IN before publishing: the licence of the original checkpoint (the reference code is "
                "BSD-licensed; trained weights follow their owner's terms and their training data's).")


def _source_record(paths):
    return {direction: {"file": os.path.basename(path), "sha256": storage.sha256_of(path)}
            for direction, path in paths.items() if path is not None}


def _description(model, paths, inflated, clip_length):
    options = generator_options(model.generator_a2b)
    affine = " (affine)" if options["affine"] else ""
    files = " and ".join(f"`{os.path.basename(p)}` ({d})" for d, p in paths.items() if p)
    text = (f"Converted by `keras-v2v convert` from the reference PyTorch CycleGAN checkpoints {files}: "
            f"ResnetGenerator, {options['num_blocks']} residual blocks, ngf {options['filters']}, "
            f"{options['norm']} norm{affine}, transposed-convolution upsampling, computed as PyTorch computes it.")
    if paths.get("b2a") is None:
        text += " No B -> A checkpoint was given: generator_b2a is freshly initialised (untrained)."
    if inflated:
        text += (f" Inflated to a 3D (video) model with `keras_v2v.inflate` (clips of {clip_length} frames): "
                 "before fine-tuning it translates each frame exactly as the 2D checkpoint does.")
    return text


def _limitations(model):
    if not model.discriminators:
        return ("Discriminators absent: the reference's discriminators (latest_net_D_*.pth) are not converted, "
                "so this preset translates but cannot be fine-tuned as it is. Convert with "
                "`--discriminators fresh` to add new, untrained PatchGANs for fine-tuning.")
    return ("Discriminators freshly initialised (untrained PatchGANs, not the reference's latest_net_D_*.pth): "
            "fine-tuning starts its critics from scratch.")


def convert_checkpoint(g_a2b, out_dir, g_b2a=None, inflate=False, clip_length=8, input_shape=(256, 256),
                       domains=("a", "b"), discriminators=None, overwrite=False, name=None):
    """Reads reference generator checkpoints and writes them as a preset folder; returns (folder, model).

    Args:
        g_a2b, g_b2a: `latest_net_G_A.pth` and `latest_net_G_B.pth` (g_b2a may be None).
        out_dir: the preset folder to write (a new or empty folder, or a preset with `overwrite`).
        inflate: write the 3D (video) form instead, clips of `clip_length` frames.
        input_shape, domains, discriminators: as in `from_reference_checkpoint`.
    """
    storage.check_preset_target(out_dir, overwrite)  # before the work, not after it
    model = from_reference_checkpoint(g_a2b, g_b2a, input_shape=input_shape, domains=domains,
                                      discriminators=discriminators,
                                      name=name or os.path.basename(os.path.normpath(os.fspath(out_dir))))
    if inflate:
        model = inflate_model(model, clip_length=clip_length, discriminators="fresh" if discriminators else None,
                              name=model.name)
    paths = {"a2b": os.fspath(g_a2b), "b2a": None if g_b2a is None else os.fspath(g_b2a)}
    metadata = {
        "name": model.name,
        "task": f"{model.domains[0]}2{model.domains[1]}",
        "method": "converted-3d" if inflate else "converted-2d",
        "description": _description(model, paths, inflate, clip_length),
        "source": {"format": "pytorch-CycleGAN-and-pix2pix ResnetGenerator state dict",
                   "checkpoints": _source_record(paths), "inflated": bool(inflate),
                   "untrained": [] if g_b2a is not None else ["generator_b2a"]},
        "licence": LICENCE_TODO,
        "limitations": _limitations(model),
        "data_licence": LICENCE_TODO,
    }
    card = cards.card_from_spec({**model_spec(model), **metadata})
    # The card's licence is the user's to state, not keras-v2v's Apache-2.0.
    card = card.replace(f"license: {cards.LICENSE}\n", "license: unknown\n", 1)
    folder = storage.save_pretrained(model, out_dir, overwrite=overwrite, card=card, metadata=metadata,
                                     allow_generators_only=True)
    return folder, model
